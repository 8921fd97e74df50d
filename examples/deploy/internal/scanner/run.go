package scanner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ErrNoToken is returned by Scan for an input with no token in it.
var ErrNoToken = errors.New("no token: give one as an argument or on stdin")

// ErrUTF16 is returned by Batch and Gate for input that starts with a
// UTF-16 byte-order mark: tokens are ASCII, one a line.
var ErrUTF16 = errors.New("UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8 or ASCII")

// Scan verifies one token, in text form or base64url, ignoring
// surrounding whitespace, and prints its answer to w. It reports whether
// the token is valid; the error is ErrNoToken for an empty input, or a
// write error.
func (s *Scanner) Scan(ctx context.Context, input string, w io.Writer) (bool, error) {
	if strings.TrimSpace(input) == "" {
		return false, ErrNoToken
	}
	o := s.check(ctx, []item{newItem(0, input)})[0]
	return o.valid(), s.print(w, &o)
}

// Batch verifies every token read from r, one a line (blank lines and
// lines starting with # are skipped), BatchSize at a time, and prints
// their answers to w in input order, then, in text, a summary line. name
// names r in errors. It returns a read or write error, or ctx's if it
// ended first.
func (s *Scanner) Batch(ctx context.Context, r io.Reader, name string, w io.Writer) (Summary, error) {
	bw := bufio.NewWriter(w)
	lr := newLineReader(r)
	var (
		sum   Summary
		items []item
		err   error
	)
	for {
		var it item
		it, err = lr.next()
		if err == nil {
			items = append(items, it)
			if len(items) < BatchSize {
				continue
			}
		}
		if len(items) > 0 {
			if perr := s.answer(ctx, items, bw, &sum); perr != nil {
				return sum, perr
			}
			items = items[:0]
		}
		if err != nil {
			break
		}
		if cerr := ctx.Err(); cerr != nil {
			return sum, cerr
		}
	}
	if err != io.EOF {
		return sum, fmt.Errorf("reading %s: %w", name, err)
	}
	if !s.cfg.JSON && sum.Valid+sum.Refused > 0 {
		fmt.Fprintln(bw, sum)
	}
	return sum, bw.Flush()
}

// answer verifies items, prints their answers and flushes them.
func (s *Scanner) answer(ctx context.Context, items []item, w *bufio.Writer, sum *Summary) error {
	outs := s.check(ctx, items)
	for i := range outs {
		if outs[i].valid() {
			sum.Valid++
		} else {
			sum.Refused++
		}
		if err := s.print(w, &outs[i]); err != nil {
			return err
		}
	}
	return w.Flush()
}

// Gate answers tokens as they arrive on r, one a line, until r ends or
// ctx is done: it verifies whatever has queued up while the previous
// batch ran (at most GateBatchSize) as one batch, prints the answers in input
// order and flushes them. A lone token is answered at once; a burst is
// verified in batches, and a hung shared store costs each batch one
// timeout. It returns a read or write error; the end of r or of ctx ends
// it cleanly.
func (s *Scanner) Gate(ctx context.Context, r io.Reader, w io.Writer) (Summary, error) {
	queue := make(chan item, BatchSize)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(queue)
		lr := newLineReader(r)
		for {
			it, err := lr.next()
			if err != nil {
				if err != io.EOF {
					readErr <- err
				}
				return
			}
			select {
			case queue <- it:
			case <-done:
				return
			}
		}
	}()
	bw := bufio.NewWriter(w)
	var (
		sum   Summary
		items []item
	)
	for {
		items = items[:0]
		select {
		case it, ok := <-queue:
			if !ok {
				select {
				case err := <-readErr:
					return sum, fmt.Errorf("reading the gate's input: %w", err)
				default:
					return sum, nil
				}
			}
			items = append(items, it)
		case <-ctx.Done():
			return sum, nil
		}
	drain:
		for len(items) < GateBatchSize {
			select {
			case it, ok := <-queue:
				if !ok {
					break drain
				}
				items = append(items, it)
			default:
				break drain
			}
		}
		if err := s.answer(ctx, items, bw, &sum); err != nil {
			return sum, err
		}
	}
}

// lineReader yields the tokens of an input, one a line, skipping blank
// lines and comments; a line longer than MaxInput is skipped whole and
// refused as malformed.
type lineReader struct {
	r *bufio.Reader
	n int
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, MaxInput+2)}
}

// next returns the next token's item, or the read error (io.EOF at the
// end).
func (l *lineReader) next() (item, error) {
	if l.n == 0 {
		// UTF-16 text would be read as lines of garbage: say what it is.
		if b, _ := l.r.Peek(2); string(b) == "\xff\xfe" || string(b) == "\xfe\xff" {
			return item{}, ErrUTF16
		}
	}
	for {
		b, err := l.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = l.r.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return item{}, err
			}
			l.n++
			return item{line: l.n, err: &malformedInput{why: "line longer than any token"}}, nil
		}
		if err != nil && (err != io.EOF || len(b) == 0) {
			return item{}, err
		}
		l.n++
		text := strings.TrimSpace(string(b))
		if text == "" || strings.HasPrefix(text, "#") {
			if err == io.EOF {
				return item{}, err
			}
			continue
		}
		return newItem(l.n, text), nil
	}
}

// FollowPoll is how often Follow looks for more data at the end of the
// file.
const FollowPoll = 20 * time.Millisecond

// Follow opens a file to read as it grows, as tail -f does, from its
// start: at its end the reader waits for more, starting again from the
// top if the file is truncated, and returns io.EOF only once ctx is done.
// A partial last line is read once its newline is written.
func Follow(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &follower{ctx: ctx, f: f}, nil
}

type follower struct {
	ctx context.Context
	f   *os.File
	off int64
}

func (fo *follower) Read(p []byte) (int, error) {
	var t *time.Timer
	for {
		n, err := fo.f.Read(p)
		fo.off += int64(n)
		if n > 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		if fi, err := fo.f.Stat(); err == nil && fi.Size() < fo.off {
			// Truncated: the writer started again.
			if _, err := fo.f.Seek(0, io.SeekStart); err != nil {
				return 0, err
			}
			fo.off = 0
			continue
		}
		if t == nil {
			t = time.NewTimer(FollowPoll)
			defer t.Stop()
		} else {
			t.Reset(FollowPoll)
		}
		select {
		case <-fo.ctx.Done():
			return 0, io.EOF
		case <-t.C:
		}
	}
}

func (fo *follower) Close() error { return fo.f.Close() }
