// Command slspipe runs YAML-declared pipelines that move and transform
// Alibaba Cloud Log Service (SLS) data. This package only parses flags,
// loads configuration, wires packages together and handles signals.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "slspipe:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "slspipe",
		Short: "Move and transform Alibaba Cloud Log Service (SLS) data with WebAssembly",
		Long: `slspipe reads every shard of an SLS logstore, runs WebAssembly modules to
deserialize, transform and serialize records, and writes them to NATS or to
another SLS logstore, committing source positions only after the sink confirms.

Start here:
  slspipe emulator --logstore demo/nginx:4   run a local SLS to try things on
  slspipe status 127.0.0.1:9464              a running pipeline's status
  slspipe version                            print the build version`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newEmulatorCmd(),
		newValidateCmd(checkModules),
		newCheckCmd(),
		newRunCmd(),
		newDevCmd(),
		newTestCmd(),
		newStatusCmd(),
	)
	return root
}
