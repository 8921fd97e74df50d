//go:build race

package web_test

// raceEnabled: the race detector slows native Go several times over, so
// the browser test does not compare the page's verification time with it.
const raceEnabled = true
