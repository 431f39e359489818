package faults_test

import (
	"fmt"

	"github.com/slspipe/slspipe/emulator/faults"
)

// Throttle the next two writes to one logstore, as the service does when a
// shard's write quota is exceeded.
func ExampleThrottle() {
	in := faults.New()
	if _, err := in.Add(faults.Throttle(faults.Write, "events", 2, "")); err != nil {
		panic(err)
	}
	op := faults.Op{Kind: faults.Write, Project: "demo", Logstore: "events", Shard: 0, Bytes: 512}
	for range 3 {
		if d := in.Before(op); d.Err != nil {
			fmt.Println(d.Err.Status, d.Err.Code)
		} else {
			fmt.Println("served")
		}
	}
	fmt.Println("errors injected:", in.Stats().Errors)
	// Output:
	// 403 ShardWriteQuotaExceed
	// 403 ShardWriteQuotaExceed
	// served
	// errors injected: 2
}
