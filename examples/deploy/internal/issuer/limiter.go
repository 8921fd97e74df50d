package issuer

import (
	"sync"
	"time"
)

// limiter allows each holder burst requests, refilled at burst per window
// (a token bucket per holder). It holds at most max buckets: a bucket that
// has refilled completely is the same as none and is dropped when room is
// needed; when every bucket is still in use, new holders are turned away
// until one refills.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64
	max     int
	buckets map[string]bucket
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

// allow takes one request from holder's bucket at now. When the bucket is
// empty it returns false and how long until it holds a request again; when
// the limiter is full it returns full and how long until a bucket may be
// freed.
func (l *limiter) allow(holder string, now time.Time) (ok bool, wait time.Duration, full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[holder]
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
		l.buckets[holder] = b
		return false, l.secondsFor(1 - b.tokens), false
	}
	b.tokens--
	l.buckets[holder] = b
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
