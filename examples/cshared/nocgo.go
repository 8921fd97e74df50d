//go:build !cgo

package main

// Without cgo (no C compiler) the library cannot be built; this file only
// keeps the package buildable so that its tests can report what is missing
// (they skip, or fail when CI=true).
func main() {}
