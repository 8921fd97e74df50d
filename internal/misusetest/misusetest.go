// Package misusetest holds the checks that the packages' misuse and
// input-limit tests share. It is for tests only.
package misusetest

import (
	"runtime"
	"testing"
)

// MaxWork bounds what refusing an oversized input may allocate: a small
// fraction of the input, which must be refused without being read.
const MaxWork = 64 << 10

// Runs is how many times Allocated calls f.
const Runs = 5

// Allocated returns the bytes f allocates on the heap: the least of Runs
// runs of f. The heap statistics count every goroutine of the
// process (the runtime's, and those other tests left behind), which only
// ever add to a run's count, so the least run is the one closest to f's
// own. Each run must do the same work: f is a refusal that changes
// nothing, or brings its own fresh state for each of the Runs calls.
func Allocated(f func()) uint64 {
	least := ^uint64(0)
	for range Runs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// NoPanic runs f and fails the test if it panics.
func NoPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", name, r)
		}
	}()
	f()
}

// Panics runs f and fails the test unless it panics: a programming error,
// such as a method called on a value not made by its constructor, fails
// loudly.
func Panics(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", name)
		}
	}()
	f()
}
