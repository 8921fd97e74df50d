package issuer

import (
	"fmt"
	"time"
)

// plural writes n with the singular or the plural noun: "1 token",
// "2 tokens", "0 tokens".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// humanDuration writes d for people, rounded up to the unit shown:
// "45 s", "6 min", "1 h", "1 h 30 min", "2 days". A wait rounded up is
// never too short.
func humanDuration(d time.Duration) string {
	if d <= 0 {
		return "0 s"
	}
	if secs := ceilDiv(d, time.Second); secs < 60 {
		return fmt.Sprintf("%d s", secs)
	}
	mins := ceilDiv(d, time.Minute)
	switch {
	case mins < 60:
		return fmt.Sprintf("%d min", mins)
	case mins%60 == 0 && mins < 48*60:
		return fmt.Sprintf("%d h", mins/60)
	case mins < 48*60:
		return fmt.Sprintf("%d h %d min", mins/60, mins%60)
	}
	return fmt.Sprintf("%d days", ceilDiv(d, 24*time.Hour))
}

func ceilDiv(d, unit time.Duration) int64 {
	return int64((d + unit - 1) / unit)
}

// per writes a rate window: "per hour", "per 30 min", "per 2 h".
func per(window time.Duration) string {
	switch h := humanDuration(window); h {
	case "1 s":
		return "per second"
	case "1 min":
		return "per minute"
	case "1 h":
		return "per hour"
	default:
		return "per " + h
	}
}
