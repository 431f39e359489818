package sls_test

import (
	"github.com/slspipe/slspipe/engine/enginetest"
	"testing"
	"time"

	"github.com/slspipe/slspipe/config"
)

func TestBeginCursorReadsEverything(t *testing.T) {
	srv := startEmulator(t, 4)
	p := newProducer(srv)
	keys := keysN(16)
	p.fill(t, keys, 5, 7)
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, sourceConfig(srv)), sink)
	eventually(t, "every record", func() bool { return sink.distinct() == p.total() })
	// Data written while running arrives too.
	p.fill(t, keys, 2, 3)
	eventually(t, "records written while running", func() bool { return sink.distinct() == p.total() })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	sink.checkComplete(t, p, true)
}

func TestEndCursorSkipsOldData(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	p.fill(t, []string{"old"}, 3, 5)
	cfg := sourceConfig(srv)
	cfg.StartPosition = config.Position{Mode: config.PositionEnd}
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, cfg), sink)
	// The shards open at their end at some point: keep writing until new
	// data shows up.
	eventually(t, "new records", func() bool {
		p.write(t, "new", 1)
		return sink.distinct() > 0
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := sink.distinct(); n == 0 || sink.count["old/0"] != 0 {
		t.Fatalf("end_cursor: %d records, old data read %d times", n, sink.count["old/0"])
	}
}

// nextSecond waits for the clock to enter a new second and returns it.
func nextSecond() time.Time {
	now := time.Now()
	next := now.Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(next) + 10*time.Millisecond)
	return next
}

func TestTimeStartPosition(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	p.fill(t, []string{"old"}, 3, 5)
	from := nextSecond()
	p.fill(t, []string{"new"}, 3, 5)
	cfg := sourceConfig(srv)
	cfg.StartPosition = config.Position{Mode: config.PositionTime, Time: from}
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, cfg), sink)
	eventually(t, "new records", func() bool { return sink.distinct() == 15 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if sink.count["old/0"] != 0 {
		t.Fatal("data received before the start time was read")
	}
}

func TestStopTimeEndsRun(t *testing.T) {
	srv := startEmulator(t, 3)
	p := newProducer(srv)
	keys := keysN(6)
	p.fill(t, keys, 3, 4)
	before := p.total()
	stop := nextSecond()
	p.fill(t, keys, 2, 4) // received at or after stop_time: not read
	cfg := sourceConfig(srv)
	cfg.StopTime = config.Timestamp{Time: stop}
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, cfg), sink)
	if err := r.wait(t); err != nil {
		t.Fatalf("run with stop_time: %v", err)
	}
	if got := sink.distinct(); got != before {
		t.Fatalf("stop_time: read %d records, want the %d received before it", got, before)
	}
	// Every pull's budget reservation, including those of the empty and
	// past-stop_time pulls, went back.
	if cur, peak := r.p.InflightBytes(); cur != 0 || peak == 0 {
		t.Fatalf("in-flight bytes %d (peak %d) after the run, want 0 (and a non-zero peak)", cur, peak)
	}
}

func TestConsumerFromCheckpoint(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	c := sdkClient(srv)
	// Key "a" and "b" land on some shards; write 4 groups each.
	p.fill(t, []string{"a", "b"}, 4, 2)
	cfg := sourceConfig(srv)
	cfg.ConsumerGroup = "cg"
	cfg.StartPosition = config.Position{Mode: config.PositionCheckpoint}
	cfg.DefaultPosition = config.Position{Mode: config.PositionEnd}

	// The group holds a checkpoint for shard 0 after its first 2 groups;
	// shard 1 has none and starts at default_position (end).
	if err := c.CreateConsumerGroup(project, logstore, sdkGroup("cg")); err != nil {
		t.Fatal(err)
	}
	begin, err := c.GetCursor(project, logstore, 0, "begin")
	if err != nil {
		t.Fatal(err)
	}
	gl, next, err := c.PullLogs(project, logstore, 0, begin, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	end0, _ := c.GetCursor(project, logstore, 0, "end")
	if err := c.UpdateCheckpoint(project, logstore, "cg", "other", 0, next, true); err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, g := range gl.LogGroups {
		skipped += len(g.Logs)
	}
	inShard0 := 0
	all, _, err := c.PullLogs(project, logstore, 0, begin, end0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range all.LogGroups {
		inShard0 += len(g.Logs)
	}
	sink := newOrderSink()
	src := newSource(t, cfg)
	r := startPipeline(t, src, sink) // no engine checkpoint: the group's applies
	eventually(t, "shard 0 after the checkpoint", func() bool { return sink.distinct() >= inShard0-skipped })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := sink.distinct(); got != inShard0-skipped {
		t.Fatalf("read %d records, want %d (shard 0 after the group checkpoint, nothing of shard 1)", got, inShard0-skipped)
	}
}

// TestSignatureV4AndGroupCommitter reads with v4 signatures in standalone
// mode with a consumer group: committed cursors reach the group, so
// progress shows in the console.
func TestSignatureV4AndGroupCommitter(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	p.fill(t, keysN(4), 3, 5)
	cfg := sourceConfig(srv)
	cfg.SignatureVersion, cfg.Region = "v4", "cn-hangzhou"
	cfg.ConsumerGroup = "console"
	src := newSource(t, cfg)
	if src.Committer() == nil {
		t.Fatal("no committer with a consumer group")
	}
	sink := newOrderSink()
	r := startPipeline(t, src, sink, enginetest.NewStore(), src.Committer())
	eventually(t, "every record", func() bool { return sink.distinct() == p.total() })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	c := sdkClient(srv)
	cps, err := c.GetCheckpoint(project, logstore, "console")
	if err != nil {
		t.Fatal(err)
	}
	ends := 0
	for _, cp := range cps {
		end, err := c.GetCursor(project, logstore, cp.ShardID, "end")
		if err != nil {
			t.Fatal(err)
		}
		if cp.CheckPoint == end {
			ends++
		}
	}
	if ends != 2 {
		t.Fatalf("group checkpoints %+v: %d of 2 shards at their end", cps, ends)
	}
}

func TestNoCommitterWithoutGroup(t *testing.T) {
	srv := startEmulator(t, 1)
	if c := newSource(t, sourceConfig(srv)).Committer(); c != nil {
		t.Fatalf("Committer() = %v without a consumer group", c)
	}
}

func TestZstdCompression(t *testing.T) {
	srv := startEmulator(t, 2)
	p := newProducer(srv)
	p.fill(t, keysN(8), 4, 6)
	cfg := sourceConfig(srv)
	cfg.Compression = "zstd"
	sink := newOrderSink()
	r := startPipeline(t, newSource(t, cfg), sink)
	eventually(t, "every record", func() bool { return sink.distinct() == p.total() })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	sink.checkComplete(t, p, true)
}
