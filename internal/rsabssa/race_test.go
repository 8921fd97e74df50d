//go:build race

package rsabssa

const raceEnabled = true
