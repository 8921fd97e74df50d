//go:build race

package scanner

// raceEnabled reports whether the race detector is on; it slows the
// gate's batches down so much that latency bounds are loosened.
const raceEnabled = true
