//go:build unix

package producer

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used;
// the benchmarks report it per log, which shared cores do not distort as
// they distort wall-clock rates.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
