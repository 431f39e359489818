// Command panicky is a guest module that passes records through and panics on a record
// whose "_action" field is "panic", to test how the host reports Go guest panics.
package main

import (
	"fmt"

	slspipe "github.com/slspipe/slspipe/plugins/sdk/go"
)

func init() {
	slspipe.Handle(func(in *slspipe.Batch, out *slspipe.Output) error {
		for i := 0; i < in.Len(); i++ {
			r := in.Record(i)
			if v, ok := r.Get("_action"); ok && string(v) == "panic" {
				panic(fmt.Sprintf("poison record %d", r.Index))
			}
			out.Pass(i, 0)
		}
		return nil
	})
}

func main() {}
