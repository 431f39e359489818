package wasmhost_test

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/slspipe/slspipe/wasmhost"
)

// A module is opened once, then called once per batch; each input record gets one
// outcome and zero or more outputs.
func ExampleOpen() {
	ctx := context.Background()
	m, err := wasmhost.Open(ctx, filepath.Join(modDir, "c_behave.wasm"), wasmhost.Options{
		Name:      "behave",
		Instances: 2,
		Config:    map[string]string{"tag": "blue"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close(ctx)

	batch := &wasmhost.Batch{Records: []wasmhost.Record{
		{Fields: []wasmhost.Field{{Key: []byte("msg"), Value: []byte("kept")}}},
		{Fields: []wasmhost.Field{{Key: []byte("_action"), Value: []byte("drop")}}},
		{Fields: []wasmhost.Field{{Key: []byte("_action"), Value: []byte("error")}}},
	}}
	var res wasmhost.Result
	if err := m.Process(ctx, batch, &res); err != nil {
		fmt.Println(err)
		return
	}
	for i, oc := range res.Outcomes {
		switch {
		case oc.Err != nil:
			fmt.Printf("record %d: %v\n", i, oc.Err)
		case oc.Count == 0:
			fmt.Printf("record %d: filtered out\n", i)
		default:
			for _, out := range res.Outputs(i) {
				for _, f := range out.Fields {
					fmt.Printf("record %d: %s=%s\n", i, f.Key, f.Value)
				}
			}
		}
	}
	// Output:
	// record 0: msg=kept
	// record 0: tag=blue
	// record 1: filtered out
	// record 2: wasm module "behave" rejected record 2: record refused by behave
}
