//go:build race

package producer

// scale divides record counts under the race detector, which slows the
// end-to-end tests tenfold.
const scale = 5
