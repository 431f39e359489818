package state_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/slspipe/slspipe/state"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "slspipe-example")
	defer os.RemoveAll(dir)

	st, err := state.Open(filepath.Join(dir, "slspipe-state.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()

	// Both shards' cursors are stored together or not at all.
	err = st.Save([]state.Checkpoint{
		{Pipeline: "demo", Logstore: "nginx", Shard: 0, Cursor: "MTcwMDAwMDAwMDAwMDAwMDAwMA=="},
		{Pipeline: "demo", Logstore: "nginx", Shard: 1, Cursor: "MTcwMDAwMDAwMDAwMDAwMDAwNQ=="},
	})
	if err != nil {
		panic(err)
	}
	cps, _ := st.Load("demo")
	for _, cp := range cps {
		fmt.Println(cp.Logstore, cp.Shard, cp.Cursor)
	}
	// Output:
	// nginx 0 MTcwMDAwMDAwMDAwMDAwMDAwMA==
	// nginx 1 MTcwMDAwMDAwMDAwMDAwMDAwNQ==
}
