package sls_test

import (
	"context"
	"encoding/base64"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
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

// TestQueryIdentitiesIndependentOfPulls: with a query the service answers
// a subset of the groups it read, without their cursors, yet a record's
// identity (and so its JetStream Msg-Id) must not depend on how pulls cut
// the shard: another max_per_fetch, or a restart from a checkpoint in the
// middle of the shard, names every record as the first run did.
func TestQueryIdentitiesIndependentOfPulls(t *testing.T) {
	srv := startEmulator(t, 1)
	p := newProducer(srv)
	p.fill(t, keysN(4), 10, 3) // 40 groups of 3 logs on one shard
	const query = "* | where key in ('key-001', 'key-002')"
	const kept = 2 * 10 * 3
	// read runs the source until want records arrived and returns each
	// record's identity by its content.
	read := func(maxPerFetch, want int, committers ...engine.Committer) map[string]string {
		t.Helper()
		cfg := sourceConfig(srv)
		cfg.Query = query
		cfg.MaxPerFetch = maxPerFetch
		sink := newIdentitySink()
		r := startPipeline(t, newSource(t, cfg), sink, committers...)
		eventually(t, "the kept records", func() bool { return sink.n() >= want })
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		return sink.snapshot()
	}
	first := read(7, kept)
	if len(first) != kept {
		t.Fatalf("first run named %d records, want %d", len(first), kept)
	}
	same := func(what string, got map[string]string) {
		t.Helper()
		for content, id := range got {
			if first[content] != id {
				t.Fatalf("%s: record %s is named %q, the first run named it %q", what, content, id, first[content])
			}
		}
	}
	same("max_per_fetch 3", read(3, kept))

	// A restart from a checkpoint 13 groups into the shard: of the 27
	// groups left, key-001 and key-002 wrote 13 or 14 (the producer wrote
	// the keys in turn), so count them rather than guess.
	c := sdkClient(srv)
	begin, err := c.GetCursor(project, logstore, 0, "begin")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(begin) // cursors are base64 of a group number
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	mid := base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(n+13, 10)))
	store := enginetest.NewStore()
	if err := store.SaveCheckpoints(context.Background(), "p", []engine.Checkpoint{{Logstore: logstore, Shard: 0, Cursor: mid}}); err != nil {
		t.Fatal(err)
	}
	left := 0
	for g := 13; g < 40; g++ {
		if k := g % 4; k == 1 || k == 2 {
			left += 3
		}
	}
	resumed := read(5, left, store)
	if len(resumed) != left {
		t.Fatalf("the resumed run named %d records, want %d", len(resumed), left)
	}
	same("resumed at group 13", resumed)
}

// identitySink records each delivered record's identity by its content.
type identitySink struct {
	*enginetest.Sink
	mu  sync.Mutex
	ids map[string]string // "key/seq" → record id
}

func newIdentitySink() *identitySink {
	return &identitySink{Sink: enginetest.NewSink(enginetest.SinkConfig{}), ids: map[string]string{}}
}

func (s *identitySink) Write(ctx context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.mu.Lock()
	for i := range recs {
		k, _ := recs[i].Get("key")
		v, _ := recs[i].Get("seq")
		s.ids[string(k)+"/"+string(v)] = recs[i].ID()
	}
	s.mu.Unlock()
	return s.Sink.Write(ctx, recs, c)
}

func (s *identitySink) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func (s *identitySink) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ids)
}
