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
