package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slspipe/slspipe/engine"
)

func newStatusCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status URL",
		Short: "Print a running pipeline's status as tables",
		Long: `status fetches /api/status from a running pipeline's metrics listener
(metrics.listen, 127.0.0.1:9464 by default) and prints it as tables: the
pipeline's state and rates, its shards (lag, logs behind the head, owner in a
consumer group), its steps (ns/record, module digest), the memory budget, and
the latest dead letters and warnings. The same data drives the status page
served at URL in a browser.

It exits 1 when the pipeline cannot be reached and 2 when it answers but has
stopped or failed.`,
		Example: `  slspipe status http://127.0.0.1:9464
  slspipe status 127.0.0.1:9464`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := fetchStatus(cmd.Context(), args[0], timeout)
			if err != nil {
				return err
			}
			if headsPending(s) {
				// The first ask starts the source's background read of the
				// shards' heads: ask again once it had time to answer.
				select {
				case <-time.After(700 * time.Millisecond):
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				}
				if again, err := fetchStatus(cmd.Context(), args[0], timeout); err == nil {
					s = again
				}
			}
			printStatus(cmd.OutOrStdout(), s, time.Now())
			if s.State == "stopped" || s.State == "failed" {
				return exitCode(2)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// headsPending reports whether a running pipeline's source has not read
// some shard's head yet.
func headsPending(s engine.Status) bool {
	if s.State != "running" {
		return false
	}
	for _, sh := range s.Shards {
		if sh.State == engine.ShardReading && sh.BehindGroups == nil && sh.HeadCheckedAt.IsZero() {
			return true
		}
	}
	return false
}

// exitCode is an error that only sets the process's exit status: the
// output already said what is wrong.
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// statusURL turns what the user typed (host:port, a URL of the listener or
// of /api/status itself) into the /api/status URL.
func statusURL(arg string) (string, error) {
	if !strings.Contains(arg, "://") {
		arg = "http://" + arg
	}
	u, err := url.Parse(arg)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("status: %q is not a listener address: want host:port or http://host:port", arg)
	}
	u.User = nil // never sent on or echoed
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/status") + "/api/status"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

func fetchStatus(ctx context.Context, arg string, timeout time.Duration) (engine.Status, error) {
	var s engine.Status
	target, err := statusURL(arg)
	if err != nil {
		return s, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("status: cannot reach the pipeline at %s: %w", target, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return s, fmt.Errorf("status: %s answered %s: %s (is this an slspipe metrics listener?)", target, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&s); err != nil {
		return s, fmt.Errorf("status: %s: not a pipeline status: %w", target, err)
	}
	return s, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// printStatus writes s as a few aligned tables.
func printStatus(w io.Writer, s engine.Status, now time.Time) {
	fmt.Fprintf(w, "pipeline %s: %s", s.Pipeline, strings.ToUpper(s.State))
	if !s.StartedAt.IsZero() {
		end := s.Now
		if !s.StoppedAt.IsZero() {
			end = s.StoppedAt
		}
		fmt.Fprintf(w, ", up %s", end.Sub(s.StartedAt).Round(time.Second))
	}
	fmt.Fprintln(w)
	if s.Error != "" {
		fmt.Fprintf(w, "error: %s\n", s.Error)
	}
	var in, out float64
	if n := len(s.Samples); n > 0 {
		in, out = s.Samples[n-1].In, s.Samples[n-1].Out
	}
	t := s.Totals
	fmt.Fprintf(w, "records: in %s/s, out %s/s (total %d in, %d written, %d confirmed, %d filtered out, %d skipped, %d dead-lettered)\n",
		rate(in), rate(out), t.RecordsIn, t.RecordsWritten, t.RecordsOut, t.Dropped, t.Skipped, t.DeadLettered)
	fmt.Fprintf(w, "sink confirmation: p50 %s, p99 %s over the last %s\n",
		millis(s.Sink.ConfirmP50Ms), millis(s.Sink.ConfirmP99Ms), time.Duration(s.Sink.WindowSeconds*float64(time.Second)).Round(time.Second))
	m := s.Memory
	fmt.Fprintf(w, "memory: %s of %s budget in use (peak %s), Go heap %s; the source waited for budget %d times\n",
		bytesText(m.InUseBytes), bytesText(m.BudgetBytes), bytesText(m.PeakBytes), bytesText(int64(m.HeapBytes)), t.SourceBlocked)
	fmt.Fprintf(w, "errors: %d stage call errors, %d failed checkpoint saves\n", t.StageCallErrors, t.CheckpointFailures)

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSTATE\tOWNER\tLAG\tBEHIND (GROUPS)\tBEHIND (≈LOGS)\tIN FLIGHT\tCOMMITTED DATA FROM")
	for _, sh := range s.Shards {
		owner := sh.Owner
		if owner == "" {
			owner = "-"
		}
		lag := "-"
		if sh.LagSeconds != nil {
			lag = (time.Duration(*sh.LagSeconds * float64(time.Second))).Round(100 * time.Millisecond).String()
		}
		committed := "-"
		if !sh.CommittedTime.IsZero() {
			committed = sh.CommittedTime.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s/%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", sh.Logstore, sh.Shard, sh.State, owner, lag,
			optInt(sh.BehindGroups), optInt(sh.BehindLogs), sh.PendingBatches, committed)
	}
	if len(s.Shards) == 0 {
		fmt.Fprintln(tw, "(no shard open)")
	}
	_ = tw.Flush()

	if len(s.Steps) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tRUNS\tNS/RECORD\tIN\tOUT\tDROPPED\tREJECTED\tCALL ERRORS\tMODULE SHA-256")
		for _, st := range s.Steps {
			runs := st.Kind
			if st.Module != "" {
				runs += " " + st.Module
			}
			digest := st.ModuleSHA256
			if digest == "" {
				digest = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%d\t%d\t%d\t%d\t%d\t%s\n", st.Name, strings.TrimSpace(runs), st.NsPerRecord,
				st.RecordsIn, st.RecordsOut, st.Dropped, st.Skipped+st.DeadLettered, st.CallErrors, digest)
		}
		_ = tw.Flush()
	}

	if dl := s.DeadLetters; dl.Total > 0 {
		fmt.Fprintf(w, "\ndead letters: %d (latest %d)\n", dl.Total, len(dl.Recent))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tSTEP\tSHARD\tCURSOR\tINDEX\tREASON")
		for i := len(dl.Recent) - 1; i >= 0 && i >= len(dl.Recent)-10; i-- {
			d := dl.Recent[i]
			fmt.Fprintf(tw, "%s\t%s\t%s/%d\t%s\t%d\t%s\n", d.Time.Local().Format(time.TimeOnly), d.Stage, d.Logstore, d.Shard, d.Cursor, d.Index, d.Reason)
		}
		_ = tw.Flush()
	}
	if len(s.Errors) > 0 {
		fmt.Fprintf(w, "\nlatest warnings and errors:\n")
		for i := len(s.Errors) - 1; i >= 0 && i >= len(s.Errors)-10; i-- {
			e := s.Errors[i]
			fmt.Fprintf(w, "  %s %-5s %s\n", e.Time.Local().Format(time.TimeOnly), e.Level, e.Message)
		}
	}
	if age := now.Sub(s.Now); age > 5*time.Second || age < -5*time.Second {
		fmt.Fprintf(w, "\nnote: the pipeline's clock is %s away from this one\n", age.Round(time.Second))
	}
}

func optInt(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

func rate(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func millis(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return time.Duration(ms * float64(time.Millisecond)).Round(10 * time.Microsecond).String()
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// statusPageURL returns the status page's URL on a metrics listen address,
// or "" when there is none. A listener on every interface is reached on
// the loopback address.
func statusPageURL(listen string) string {
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// devStatusLine is the first line `slspipe dev` prints: where to look.
func devStatusLine(listen string) string {
	u := statusPageURL(listen)
	switch {
	case listen == "":
		return "dev: no status page: metrics.listen is empty"
	case u == "":
		return "dev: status page on the metrics listener " + listen + " (its port is in the \"serving metrics\" log line)"
	}
	return "dev: status page " + u + " (or: slspipe status " + strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/") + ")"
}
