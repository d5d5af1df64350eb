//go:build !race

package wire

// raceEnabled: the tests run with the race detector.
const raceEnabled = false
