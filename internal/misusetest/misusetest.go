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

// Allocated returns the bytes f allocates on the heap.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
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
