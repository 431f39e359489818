// Command identity is a guest module: every input record becomes one identical output.
package main

import slspipe "github.com/slspipe/slspipe/plugins/sdk/go"

func init() {
	slspipe.Handle(func(in *slspipe.Batch, out *slspipe.Output) error {
		for i := 0; i < in.Len(); i++ {
			out.Copy(in, i)
			out.OK(i, 0)
		}
		return nil
	})
}

func main() {}
