package issuer

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
)

// limiter allows each holder burst requests, refilled at burst per window
// (a token bucket per holder). It holds at most max buckets: a bucket that
// has refilled completely is the same as none and is dropped when room is
// needed; when every bucket is still in use, new holders are turned away
// until one refills.
//
// Buckets are kept by an HMAC of the attester's holder handle, under a key
// derived from the issuer seed, so that the saved file (see save) names
// no holder to anyone without the seed.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64
	max     int
	key     []byte
	buckets map[string]bucket
	// dirty reports a change since the last save.
	dirty bool

	// saveMu serializes saves.
	saveMu sync.Mutex
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, window time.Duration, max int) *limiter {
	return &limiter{
		burst:   float64(burst),
		perSec:  float64(burst) / window.Seconds(),
		max:     max,
		buckets: make(map[string]bucket),
	}
}

// limiterFile is the rate limiter's file in the state directory. Each line
// after the first is a bucket that has not refilled completely:
//
//	statustoken-issuer-ratelimit/v1
//	HMAC-HEX TOKENS UNIX-NANOSECONDS
const (
	limiterFile   = "ratelimit"
	limiterFormat = "statustoken-issuer-ratelimit/v1"
	// limiterLine bounds a line of the file.
	limiterLine = 128
)

// loadLimiter returns the rate limiter of c, with the buckets saved in the
// state directory by the previous run, so that a restart resets no limit.
func loadLimiter(c Config, st *state, now time.Time) (*limiter, error) {
	l := newLimiter(c.RateLimit, c.RateWindow, c.MaxHolders)
	key, err := hkdf.Key(sha256.New, st.seed, nil, "statustoken issuer rate-limit buckets", sha256.Size)
	if err != nil {
		return nil, err
	}
	l.key = key
	name := filepath.Join(st.dir, limiterFile)
	data, err := files.ReadPrivate(name, int64(c.MaxHolders+1)*limiterLine)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	bad := func(n int) error {
		return fmt.Errorf("%s:%d: not a rate-limit bucket; restore the file from a backup, or delete it to reset every holder's rate limit", name, n)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, limiterLine), limiterLine)
	if !sc.Scan() || sc.Text() != limiterFormat {
		return nil, bad(1)
	}
	for n := 2; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			return nil, bad(n)
		}
		h, err1 := hex.DecodeString(f[0])
		tokens, err2 := strconv.ParseFloat(f[1], 64)
		at, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || len(h) != sha256.Size || math.IsNaN(tokens) || tokens < 0 {
			return nil, bad(n)
		}
		if len(l.buckets) >= l.max {
			break
		}
		// A bucket saved under a larger -rate-limit keeps at most the
		// new burst; a time ahead of the clock counts from now.
		b := bucket{tokens: min(tokens, l.burst), at: time.Unix(0, at)}
		if b.at.After(now) {
			b.at = now
		}
		l.buckets[string(h)] = b
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return l, nil
}

// handle returns the bucket key of a holder.
func (l *limiter) handle(holder string) string {
	if l.key == nil {
		return holder
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(holder))
	return string(m.Sum(nil))
}

// allow takes one request from holder's bucket at now. When the bucket is
// empty it returns false and how long until it holds a request again; when
// the limiter is full it returns full and how long until a bucket may be
// freed.
func (l *limiter) allow(holder string, now time.Time) (ok bool, wait time.Duration, full bool) {
	h := l.handle(holder)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[h]
	if found {
		b = l.refill(b, now)
	} else {
		if len(l.buckets) >= l.max {
			l.sweep(now)
			if len(l.buckets) >= l.max {
				return false, l.secondsFor(1), true
			}
		}
		b = bucket{tokens: l.burst, at: now}
	}
	if b.tokens < 1 {
		l.buckets[h] = b
		return false, l.secondsFor(1 - b.tokens), false
	}
	b.tokens--
	l.buckets[h] = b
	l.dirty = true
	return true, 0, false
}

func (l *limiter) refill(b bucket, now time.Time) bucket {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.perSec)
		b.at = now
	}
	return b
}

// sweep drops every bucket that has refilled completely.
func (l *limiter) sweep(now time.Time) {
	for h, b := range l.buckets {
		if l.refill(b, now).tokens >= l.burst {
			delete(l.buckets, h)
		}
	}
}

func (l *limiter) secondsFor(tokens float64) time.Duration {
	return time.Duration(tokens / l.perSec * float64(time.Second))
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// save writes the buckets that have not refilled at now to the file
// limiterFile in dir, atomically, when they changed since the last save.
func (l *limiter) save(dir string, now time.Time) error {
	l.saveMu.Lock()
	defer l.saveMu.Unlock()
	l.mu.Lock()
	if !l.dirty {
		l.mu.Unlock()
		return nil
	}
	var b strings.Builder
	b.WriteString(limiterFormat + "\n")
	for h, bk := range l.buckets {
		if bk = l.refill(bk, now); bk.tokens < l.burst {
			fmt.Fprintf(&b, "%x %s %d\n", h, strconv.FormatFloat(bk.tokens, 'g', -1, 64), bk.at.UnixNano())
		}
	}
	l.dirty = false
	l.mu.Unlock()
	if err := files.WriteAtomic(filepath.Join(dir, limiterFile), []byte(b.String()), 0o600); err != nil {
		l.mu.Lock()
		l.dirty = true
		l.mu.Unlock()
		return err
	}
	return nil
}
