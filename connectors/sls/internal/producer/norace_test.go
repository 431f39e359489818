//go:build !race

package producer

// scale divides record counts; 1 without the race detector.
const scale = 1
