package sls_test

import (
	"context"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/internal/preflight"
	"github.com/slspipe/slspipe/internal/preflight/preflighttest"
)

// groupAtEnd reports whether consumer group name holds every shard's end
// cursor as its checkpoint.
func groupAtEnd(t *testing.T, srvShards int, c interface {
	GetCursor(project, logstore string, shard int, from string) (string, error)
}, cps map[int]string) bool {
	for sh := range srvShards {
		end, err := c.GetCursor(project, logstore, sh, "end")
		begin, _ := c.GetCursor(project, logstore, sh, "begin")
		if err != nil || cps[sh] != end && !(cps[sh] == "" && begin == end) { // an empty shard has nothing to commit
			return false
		}
	}
	return true
}

// TestQueryFiltersAtTheSource: with source.sls.query only the logs and
// fields the statement keeps arrive, and every shard's cursor is committed
// to its end, also on shards where every group was filtered out.
func TestQueryFiltersAtTheSource(t *testing.T) {
	for _, tc := range []struct {
		name, query, key string
	}{
		{"some kept", "* | where key = 'key-001' | project key, seq", "key-001"},
		{"all filtered out", "* | where key = 'nobody'", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startEmulator(t, 4)
			p := newProducer(srv)
			p.fill(t, keysN(8), 6, 5)
			cfg := sourceConfig(srv)
			cfg.Query = tc.query
			cfg.ConsumerGroup = "qg"
			cfg.MaxPerFetch = 2 // several pulls per shard, most of them empty
			src := newSource(t, cfg)
			sink := newOrderSink()
			r := startPipeline(t, src, sink, src.Committer())
			c := sdkClient(srv)
			eventually(t, "the group's checkpoints at every shard's end", func() bool {
				cps, err := c.GetCheckpoint(project, logstore, "qg")
				if err != nil {
					return false
				}
				at := map[int]string{}
				for _, cp := range cps {
					at[cp.ShardID] = cp.CheckPoint
				}
				return groupAtEnd(t, 4, c, at)
			})
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			want := 0
			if tc.key != "" {
				want = 6 * 5
			}
			if got := sink.distinct(); got != want {
				t.Fatalf("%d records delivered, want %d", got, want)
			}
			for id := range sink.Counts() {
				rec, _ := sink.Record(id)
				k, _ := rec.Get("key")
				if _, hasSeq := rec.Get("seq"); string(k) != tc.key || len(rec.Fields) != 2 || !hasSeq {
					t.Fatalf("record %v: want only key %s and seq", rec.Fields, tc.key)
				}
				if rec.Topic != "t" || len(rec.Tags) != 1 {
					t.Fatalf("record lost its group's topic or tags: %q %v", rec.Topic, rec.Tags)
				}
			}
		})
	}
}

// TestQueryStopTime: stop_time ends the run with a query too.
func TestQueryStopTime(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	p.fill(t, keysN(4), 3, 4)
	stop := nextSecond()
	p.fill(t, keysN(4), 2, 4) // after stop_time: not read
	cfg := sourceConfig(srv)
	cfg.StopTime = config.Timestamp{Time: stop}
	cfg.Query = "* | where key in ('key-000', 'key-002')"
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, cfg), sink)
	if err := r.wait(t); err != nil {
		t.Fatalf("run with stop_time and a query: %v", err)
	}
	if got := sink.distinct(); got != 2*3*4 {
		t.Fatalf("read %d records, want the %d of key-000 and key-002 before stop_time", got, 2*3*4)
	}
}

// TestBadQueryRefusedBeforePulling: a statement outside the subset is
// refused when the source is created, naming the problem and its place.
func TestBadQueryRefusedBeforePulling(t *testing.T) {
	srv := startEmulator(t, 1)
	cfg := sourceConfig(srv)
	cfg.Query = "* | where seq > 10"
	_, err := sls.NewSource(cfg)
	if err == nil || !strings.Contains(err.Error(), "query: line 1, column 15: '>' cannot be applied to varchar, bigint") {
		t.Fatalf("NewSource = %v", err)
	}
}

// TestCheckSourceRunsQuery: the preflight pulls the oldest log group with
// the statement, reporting what it kept, and reports a statement the
// service refuses as failed with the service's message.
func TestCheckSourceRunsQuery(t *testing.T) {
	srv := startEmulator(t, 1)
	p := newProducer(srv)
	p.fill(t, []string{"key-a"}, 2, 4)
	cfg := sourceConfig(srv)
	cfg.Query = "* | where seq in ('1', '2')"
	res := sls.CheckSource(context.Background(), cfg, preflight.Options{})
	r := preflighttest.Result(t, res, "PullLogs with query")
	if r.Status != preflight.OK || !strings.Contains(r.Detail, "kept 2 of 4 logs, failed on 0") {
		t.Fatalf("PullLogs with query = %+v", r)
	}
	// The local check is bypassed here to see what the service answers.
	cfg.Query = "* | where seq > 1"
	res = sls.CheckSource(context.Background(), cfg, preflight.Options{})
	r = preflighttest.Result(t, res, "PullLogs with query")
	if r.Status != preflight.Failed || !strings.Contains(r.Detail, "ParameterInvalid") || !strings.Contains(r.Detail, "line 1, column 15") {
		t.Fatalf("refused query = %+v", r)
	}
}
