package tlog_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
)

// BenchmarkAppend measures the sustained append rate of decision
// records (80 bytes each) on Tessera's POSIX driver in a temporary
// directory: four goroutines each append batches, as an issuer under
// load hands the decisions of each short interval to Append while the
// previous batches are still being integrated. It reports records/s and
// what that rate means in token requests per day (one record each).
//
//	cd examples/deploy && go test -run '^$' -bench BenchmarkAppend -benchtime 200000x -count 5 ./internal/tlog/ 2>/dev/null
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{256, 1024} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l, err := tlog.Open(context.Background(), b.TempDir(), newKey(b, "example.org/health/decisions"), &tlog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			entries := records(batch, "bench")
			var left atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			b.ResetTimer()
			start := time.Now()
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := min(left.Add(-int64(batch))+int64(batch), int64(batch))
						if n <= 0 {
							return
						}
						if _, err := l.Append(context.Background(), entries[:n]); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "records/s")
			b.ReportMetric(rate*86400/1e6, "Mrequests/day")
		})
	}
}

// BenchmarkOpen measures what a restart costs on a log of 100,000
// decision records: Open's full check (every entry bundle and tile
// rehashed) and its check of the right edge only (EdgeCheckOnly). It
// reports the entries checked per second.
//
//	cd examples/deploy && go test -run '^$' -bench BenchmarkOpen -count 3 ./internal/tlog/
func BenchmarkOpen(b *testing.B) {
	const size = 100_000
	dir := b.TempDir()
	skey := newKey(b, "example.org/health/decisions")
	l, err := tlog.Open(context.Background(), dir, skey, &tlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	entries := records(10_000, "open")
	for range size / len(entries) {
		if _, err := l.Append(context.Background(), entries); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	for _, edge := range []bool{false, true} {
		b.Run(fmt.Sprintf("edge-only=%v", edge), func(b *testing.B) {
			for b.Loop() {
				l, err := tlog.Open(context.Background(), dir, skey, &tlog.Options{EdgeCheckOnly: edge})
				if err != nil {
					b.Fatal(err)
				}
				l.Close(context.Background())
			}
			b.ReportMetric(size*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
