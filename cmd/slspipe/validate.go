package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/slspipe/slspipe/config"
)

// pipelineCheck inspects a pipeline whose file is already valid and returns
// problems that need more than the file to find (for example loading each
// step's WebAssembly module and checking its ABI version). Errors should
// carry the file and, where possible, the line of the setting at fault.
type pipelineCheck func(ctx context.Context, p *config.Pipeline) []config.Error

// newValidateCmd returns `slspipe validate`. Extra checks run, in order,
// after the file itself is valid; module checks plug in here.
func newValidateCmd(checks ...pipelineCheck) *cobra.Command {
	var printConfig bool
	cmd := &cobra.Command{
		Use:   "validate pipeline.yaml",
		Short: "Check a pipeline file and list every problem in it",
		Long: `validate reads a pipeline file, expands ${VAR} from the environment, and checks
every setting. Each problem is printed on its own line as file:line:column:
message, and the command exits with status 1 when there is any. Secrets are
never printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], printConfig, checks)
		},
	}
	cmd.Flags().BoolVar(&printConfig, "print", false, "also print the effective configuration, defaults filled in and secrets redacted")
	return cmd
}

// runValidate loads path, prints every problem to stderr, or a one-line
// summary (and with printConfig the effective configuration) to stdout.
func runValidate(ctx context.Context, stdout, stderr io.Writer, path string, printConfig bool, checks []pipelineCheck) error {
	p, err := config.Load(path)
	var errs *config.Errors
	switch {
	case errors.As(err, &errs):
		return reportProblems(stderr, path, errs.List)
	case err != nil:
		return err
	}
	var problems []config.Error
	for _, check := range checks {
		problems = append(problems, check(ctx, p)...)
	}
	if len(problems) > 0 {
		return reportProblems(stderr, path, problems)
	}
	if _, err := fmt.Fprintf(stdout, "%s: ok (%s)\n", path, p.Summary()); err != nil {
		return err
	}
	if printConfig {
		if _, err := io.WriteString(stdout, p.String()); err != nil {
			return err
		}
	}
	return nil
}

// reportProblems prints one problem per line and returns the short error
// that main prints last.
func reportProblems(w io.Writer, path string, list []config.Error) error {
	for _, e := range list {
		fmt.Fprintln(w, e.Error())
	}
	if len(list) == 1 {
		return fmt.Errorf("1 error in %s", path)
	}
	return fmt.Errorf("%d errors in %s", len(list), path)
}
