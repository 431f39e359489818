//go:build !unix

package producer

import "time"

// processCPU is unknown here; the benchmarks then report 0 CPU per log.
func processCPU() time.Duration { return 0 }
