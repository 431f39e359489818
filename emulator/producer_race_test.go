//go:build race

package emulator_test

// raceEnabled reports whether the race detector is on; the end-to-end
// tests then write fewer logs, the detector slowing them tenfold.
const raceEnabled = true
