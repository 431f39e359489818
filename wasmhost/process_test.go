package wasmhost_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/slspipe/slspipe/wasmhost"
)

func sameRecord(a, b wasmhost.Record) bool {
	if a.Sec != b.Sec || a.Nsec != b.Nsec || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if !bytes.Equal(a.Fields[i].Key, b.Fields[i].Key) || !bytes.Equal(a.Fields[i].Value, b.Fields[i].Value) {
			return false
		}
	}
	return true
}

func TestIdentityModules(t *testing.T) {
	for _, name := range []string{"c_identity", "c_identity_wasi", "rust_identity", "rust_identity_wasi", "go_identity"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			m, err := wasmhost.Open(ctx, modulePath(t, name), wasmhost.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			var res wasmhost.Result
			for _, n := range []int{1, 100, 2000, 3} { // growing and shrinking batches reuse the arena
				b := sampleBatch(n)
				if err := m.Process(ctx, b, &res); err != nil {
					t.Fatalf("batch of %d: %v", n, err)
				}
				if len(res.Outcomes) != n || len(res.Records) != n {
					t.Fatalf("batch of %d: %d outcomes, %d outputs", n, len(res.Outcomes), len(res.Records))
				}
				for i, in := range b.Records {
					oc := res.Outcomes[i]
					if oc.Err != nil || oc.Count != 1 || oc.Route != 0 {
						t.Fatalf("record %d: outcome %+v", i, oc)
					}
					if got := res.Outputs(i)[0]; !sameRecord(got, in) {
						t.Fatalf("record %d: got %+v, want %+v", i, got, in)
					}
				}
			}
		})
	}
}
