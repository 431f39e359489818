package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/slspipe/slspipe/config"
	natsconn "github.com/slspipe/slspipe/connectors/nats"
	slsconn "github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/internal/preflight"
	"github.com/slspipe/slspipe/internal/redact"
)

func newCheckCmd() *cobra.Command {
	var writeTest bool
	cmd := &cobra.Command{
		Use:   "check pipeline.yaml",
		Short: "Call every API the pipeline needs and report missing permissions",
		Long: `check calls, once, each API the pipeline's source, sink and dead-letter
destination will need, and prints one line per permission or resource:
ok, MISSING (denied, or does not exist), FAILED (credentials rejected,
unreachable, unexpected answer) or skipped (not probed). Under each denied SLS
permission it prints the RAM policy statement that grants it, and at the end
one policy document granting everything missing. It exits 1 when anything
is missing or failed. Secrets are never printed.

SLS source: ListShards, GetCursor and a pull of one log group at the end of
a shard (reads nothing). With query set, also one pull of the oldest log
group of a shard with the statement, which the service parses and runs: a
statement it refuses is FAILED, with its message. With consumer_group: creates the group when it does
not exist (as run would), sets its timeout and order (as run does), reads
its checkpoints. Updating a checkpoint and heartbeating are not probed: a
checkpoint would move where the group resumes, and a heartbeat joins the
group, which then moves shards from running replicas to the probe.

SLS sink: ListShards. With --write-test also PostLogStoreLogs, writing one
log with topic "slspipe-check" (fields slspipe_check and host).

NATS: connects with the configured authentication, looks up the stream
(JetStream) and the source's durable consumer; nothing is created. With
--write-test it publishes one message with header Slspipe-Check to the sink's
subject.`,
		Example: `  slspipe check pipeline.yaml
  slspipe check --write-test pipeline.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], writeTest)
		},
	}
	cmd.Flags().BoolVar(&writeTest, "write-test", false, `also probe writes: one log with topic "slspipe-check" into an SLS sink, one message to a NATS sink's subject`)
	return cmd
}

// runCheck loads path, probes its connectors and prints the report to
// stdout. It returns an error when anything is missing or failed.
func runCheck(ctx context.Context, stdout, stderr io.Writer, path string, writeTest bool) error {
	p, err := loadPipeline(stderr, path)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	report := checkPipeline(ctx, p, preflight.Options{WriteTest: writeTest, Host: host})
	if len(report.Sections) == 0 {
		_, err := fmt.Fprintf(stdout, "%s: nothing to check: the source (%s) and sink (%s) call no external service\n",
			path, p.Source.Kind(), p.Sink.Kind())
		return err
	}
	if err := report.WriteText(stdout); err != nil {
		return err
	}
	if !report.OK() {
		return fmt.Errorf("check %s: %d missing, %d failed", path, report.Count(preflight.Missing), report.Count(preflight.Failed))
	}
	return nil
}

// checkPipeline probes the source, the sink and the dead-letter
// destination of p, one section each.
func checkPipeline(ctx context.Context, p *config.Pipeline, o preflight.Options) *preflight.Report {
	r := &preflight.Report{}
	name := "slspipe-check/" + p.Name
	switch src := p.Source; {
	case src.SLS != nil:
		r.Add(fmt.Sprintf("source sls: project %q at %s", src.SLS.Project, redact.URL(src.SLS.Endpoint)),
			slsconn.CheckSource(ctx, *src.SLS, o))
	case src.NATS != nil:
		r.Add(fmt.Sprintf("source nats: stream %q, durable %q", src.NATS.Stream, src.NATS.Durable),
			natsconn.CheckSource(ctx, *src.NATS, natsconn.WithClientName(name)))
	}
	checkSink := func(what string, s config.Sink) {
		switch {
		case s.SLS != nil:
			r.Add(fmt.Sprintf("%s sls: project %q at %s", what, s.SLS.Project, redact.URL(s.SLS.Endpoint)),
				slsconn.CheckSink(ctx, *s.SLS, o))
		case s.NATS != nil:
			r.Add(fmt.Sprintf("%s nats: %s, subject %q", what, s.NATS.Mode, s.NATS.Subject),
				natsconn.CheckSink(ctx, *s.NATS, o, natsconn.WithClientName(name)))
		}
	}
	checkSink("sink", p.Sink)
	if p.DeadLetter != nil {
		checkSink("dead_letter", *p.DeadLetter)
	}
	return r
}
