// Command slsbench is slspipe's benchmark harness (make bench): it starts
// the SLS emulator and a NATS JetStream server as processes, preloads
// records into a multi-shard logstore, measures the baselines (raw decode,
// the official consumer library program, the JetStream publish limit) and
// slspipe's scenarios in the same run, and prints one markdown table.
//
//	slsbench -slspipe bin/slspipe -modules bin/wasm -records 1000000 -out bench.md
//
// Run it from the repository: it builds its helper commands with go build.
// Ctrl-C stops every process it started and removes its temporary files.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/slspipe/slspipe/bench"
)

func main() {
	var cfg bench.Config
	flag.StringVar(&cfg.Slspipe, "slspipe", "bin/slspipe", "slspipe binary under test")
	flag.StringVar(&cfg.ModulesDir, "modules", "bin/wasm", "directory of modules built by plugins/build.sh")
	flag.Int64Var(&cfg.Records, "records", 1_000_000, "records preloaded into the main logstore")
	flag.IntVar(&cfg.Shards, "shards", 8, "shards of the main logstore")
	flag.IntVar(&cfg.RecordBytes, "record-bytes", 200, "approximate size of a 10-field record")
	flag.Int64Var(&cfg.SweepRecords, "sweep-records", 200_000, "records per logstore of the shard sweep")
	sweep := flag.String("sweep-shards", "1,8,64,256", "shard counts of the sweep")
	flag.StringVar(&cfg.SweepSink, "sweep-sink", "discard", "sink of the sweep: discard or nats")
	scenarios := flag.String("scenarios", strings.Join(bench.AllScenarios, ","), "scenarios to run, comma-separated")
	flag.StringVar(&cfg.Source, "source", bench.SourceSLS, "slspipe source: sls, generate (harness trial), auto")
	flag.IntVar(&cfg.MaxPerFetch, "max-per-fetch", 0, "log groups per pull for slspipe (0: its default)")
	flag.StringVar(&cfg.ModuleMemory, "module-memory", "", "memory_limit of every module step, e.g. 256MiB (default: slspipe's)")
	flag.DurationVar(&cfg.Timeout, "timeout", 0, "bound on each scenario (default 10m)")
	flag.StringVar(&cfg.ProfileDir, "profile", "", "write a CPU profile of each slspipe scenario into this directory")
	flag.IntVar(&cfg.ProfileSeconds, "profile-seconds", 5, "length of each CPU profile")
	flag.IntVar(&cfg.Rounds, "rounds", 1, "run the scenarios this many times, interleaved, and report each one's median")
	flag.DurationVar(&cfg.StatusPoll, "status-poll", 0, "also poll each slspipe run's /api/status this often, as an open status page does (it polls every 1.5s)")
	out := flag.String("out", "", "also write the table to this file")
	quiet := flag.Bool("q", false, "no progress lines on stderr")
	flag.Parse()

	cfg.Scenarios = splitList(*scenarios)
	for _, s := range splitList(*sweep) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail(fmt.Errorf("-sweep-shards: %q is not a shard count", s))
		}
		cfg.SweepShards = append(cfg.SweepShards, n)
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := bench.Run(ctx, cfg)
	if err != nil {
		fail(err)
	}
	table := report.Markdown()
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fail(fmt.Errorf("write %s: %w", *out, err))
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "slsbench:", err)
	os.Exit(1)
}
