package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/emulator/faults"
)

var (
	chaosFull = flag.Bool("chaos.full", false, "run the full chaos suite (20+ SIGKILLs, more records, longer outages)")
	chaosOut  = flag.String("chaos.out", "", "write the chaos table (markdown) to this file")
	chaosSeed = flag.Uint64("chaos.seed", 1, "seed of the chaos suite's random choices")
)

// chaosScale holds the sizes of one mode of the suite.
type chaosScale struct {
	killRecords, killCount   int     // repeated SIGKILL
	killRate                 float64 // records per second written meanwhile
	outageRecords            int
	outage                   time.Duration
	faultRecords, faultKills int
	splitRecords             int
	groupAfterEvent          int // records written after each group event
	sinkRecords, sinkKills   int
	rate                     float64
	deliverWithin            time.Duration
}

var (
	chaosShort = chaosScale{
		killRecords: 8000, killCount: 3, killRate: 2500,
		outageRecords: 8000, outage: 3 * time.Second,
		faultRecords: 6000, faultKills: 1, splitRecords: 8000, groupAfterEvent: 2000,
		sinkRecords: 5000, sinkKills: 2,
		rate: 2500, deliverWithin: 60 * time.Second,
	}
	chaosLong = chaosScale{
		killRecords: 150000, killCount: 24, killRate: 5000,
		outageRecords: 60000, outage: 10 * time.Second,
		faultRecords: 50000, faultKills: 4, splitRecords: 60000, groupAfterEvent: 10000,
		sinkRecords: 30000, sinkKills: 6,
		rate: 4000, deliverWithin: 120 * time.Second,
	}
)

// TestChaos runs slspipe through crashes, outages, throttling, server
// errors, resharding and a lost replica, while records keep arriving, and
// prints one table row per scenario: records produced, delivered, lost
// (must be 0) and duplicated (must be 0 into JetStream; counted, and
// allowed, into SLS). Everything runs on loopback. The short version runs
// with the other tests; `make chaos` runs the full one (-chaos.full).
func TestChaos(t *testing.T) {
	scale, mode := chaosShort, "short"
	if *chaosFull {
		scale, mode = chaosLong, "full"
	}
	table := &chaosTable{}
	began := time.Now()
	kills, ranKills := 0, false

	t.Run("sigkill", func(t *testing.T) { ranKills = true; kills += chaosRepeatedKill(t, table, scale) })
	t.Run("nats_outage", func(t *testing.T) { chaosNATSOutage(t, table, scale) })
	t.Run("sls_faults", func(t *testing.T) { kills += chaosSLSFaults(t, table, scale) })
	t.Run("split_merge", func(t *testing.T) { kills += chaosSplitMerge(t, table, scale) })
	t.Run("group_replica", func(t *testing.T) { kills += chaosGroupReplica(t, table, scale) })
	t.Run("sls_sink", func(t *testing.T) { kills += chaosSLSSink(t, table, scale) })

	title := fmt.Sprintf("slspipe chaos suite (%s, seed %d): %d SIGKILLs in all, %.0fs",
		mode, *chaosSeed, kills, time.Since(began).Seconds())
	md := table.markdown(title)
	t.Log("\n" + md)
	if *chaosOut != "" {
		if err := os.WriteFile(*chaosOut, []byte(md), 0o644); err != nil {
			t.Error(err)
		}
	}
	if *chaosFull && ranKills && kills < 20 && !t.Failed() {
		t.Errorf("only %d SIGKILLs in the full suite, want at least 20", kills)
	}
}

func sigkills(n int) string {
	if n == 1 {
		return "1 SIGKILL"
	}
	return fmt.Sprintf("%d SIGKILLs", n)
}

// chaosRNG returns the seeded random source of one scenario.
func chaosRNG(scenario uint64) *rand.Rand {
	return rand.New(rand.NewPCG(*chaosSeed, scenario))
}

// checkJetStream records the row and fails the test on any loss or
// duplicate.
func checkJetStream(t *testing.T, table *chaosTable, c *chaosTally, scenario, injected string, began time.Time) {
	t.Helper()
	table.add(c.row(scenario, injected, time.Since(began)))
	t.Logf("%s: produced %d, %d messages, %d distinct, %d lost, %d duplicated, %d out of key order",
		scenario, c.produced, c.messages, c.delivered, c.lost, c.duplicated, c.outOfOrder)
	if c.lost != 0 || c.duplicated != 0 || c.unexpected != 0 {
		t.Errorf("%s: %d lost, %d duplicated, %d unexpected records in JetStream; want none", scenario, c.lost, c.duplicated, c.unexpected)
	}
}

// killPoints draws n seeded kill points in [lo, hi).
func killPoints(rng *rand.Rand, n, lo, hi int) []int {
	points := make([]int, n)
	for i := range points {
		points[i] = lo + rng.IntN(hi-lo)
	}
	slices.Sort(points)
	return points
}

// runKilled runs `slspipe run path` and SIGKILLs it whenever progress
// reaches the next point, restarting it each time; a run is killed no
// sooner than minStep past where it began, so that every run delivers
// something, and points at or past limit are skipped. It returns the kills
// and the last run, still running.
func runKilled(t *testing.T, sc chaosScale, path string, points []int, minStep, limit int, progress func() int) (int, *chaosProcess) {
	t.Helper()
	kills := 0
	for _, point := range points {
		target := max(point, progress()+minStep)
		if target >= limit {
			t.Logf("%d of %d planned kills: progress had passed the rest", kills, len(points))
			break
		}
		r := startChaosRun(t, fmt.Sprintf("run %d", kills+1), path)
		if !awaitCond(t, fmt.Sprintf("progress %d", target), sc.deliverWithin, []*chaosProcess{r}, func() bool { return progress() >= target }) {
			t.Fatalf("progress %d, not %d after %s; log tail:\n%s", progress(), target, sc.deliverWithin, r.tail(40))
		}
		r.kill(t)
		kills++
	}
	return kills, startChaosRun(t, "final run", path)
}

// chaosRepeatedKill SIGKILLs `slspipe run` (SLS → JetStream) at seeded
// random points of the stream's growth while logs keep arriving, and
// restarts it each time.
func chaosRepeatedKill(t *testing.T, table *chaosTable, sc chaosScale) int {
	began := time.Now()
	addr := startEmulatorProcess(t, "chaos/in:4")
	client := emulatorClient(addr)
	ns := startNATS(t)
	w := newSLSWriter(t, client, "chaos", "in", sc.killRate)
	stopWriter, written := startWriter(t, w, sc.killRecords)
	path := writeChaosFile(t, slsToJetStream("chaos-kill", addr, ns.URL(), "KILL", ""))
	stream := watchStream(t, ns.URL(), "KILL")

	// Kill points: stream sizes drawn over the run.
	points := killPoints(chaosRNG(1), sc.killCount, sc.killRecords/20, sc.killRecords*9/10)
	kills, final := runKilled(t, sc, path, points, 200, sc.killRecords, func() int { return int(stream.msgs()) })
	<-written
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	awaitCond(t, "every record", sc.deliverWithin, []*chaosProcess{final}, func() bool { return int(stream.msgs()) >= sc.killRecords })
	if code := final.stop(t); code != 0 {
		t.Errorf("final run exited %d after SIGTERM; log tail:\n%s", code, final.tail(40))
	}
	c := tallyStream(t, stream, w.records())
	checkJetStream(t, table, c, "SLS → JetStream, repeated SIGKILL + restart", sigkills(kills), began)
	return kills
}

// chaosNATSOutage stops the NATS server in the middle of a run and starts
// it again on the same port and store while logs keep arriving.
func chaosNATSOutage(t *testing.T, table *chaosTable, sc chaosScale) {
	began := time.Now()
	addr := startEmulatorProcess(t, "chaos/in:4")
	client := emulatorClient(addr)
	ns := startNATS(t)
	w := newSLSWriter(t, client, "chaos", "in", sc.rate)
	stopWriter, written := startWriter(t, w, sc.outageRecords)
	path := writeChaosFile(t, slsToJetStream("chaos-outage", addr, ns.URL(), "OUTAGE", ""))
	stream := watchStream(t, ns.URL(), "OUTAGE")

	r := startChaosRun(t, "run", path)
	procs := []*chaosProcess{r}
	if !awaitCond(t, "a quarter of the records", sc.deliverWithin, procs, func() bool { return int(stream.msgs()) >= sc.outageRecords/4 }) {
		t.Fatalf("stream at %d; log tail:\n%s", stream.msgs(), r.tail(40))
	}
	ns.Stop()
	down := time.Now()
	atStop := w.records()
	// The outage lasts a fixed time: that is the fault being injected.
	select {
	case <-r.done:
		t.Fatalf("slspipe exited during the NATS outage; log tail:\n%s", r.tail(40))
	case <-time.After(sc.outage):
	}
	writtenDuring := w.records() - atStop
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	outage := time.Since(down)
	<-written
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	awaitCond(t, "every record", sc.deliverWithin, procs, func() bool { return int(stream.msgs()) >= sc.outageRecords })
	if code := r.stop(t); code != 0 {
		t.Errorf("slspipe exited %d after SIGTERM; log tail:\n%s", code, r.tail(40))
	}
	c := tallyStream(t, stream, w.records())
	t.Logf("%d records written to SLS during the %.1fs outage", writtenDuring, outage.Seconds())
	checkJetStream(t, table, c, "SLS → JetStream, NATS server outage", fmt.Sprintf("NATS down %.0fs", outage.Seconds()), began)
	// What was unacknowledged at the disconnection is republished in publish order.
	if c.outOfOrder != 0 {
		t.Errorf("%d records arrived after a later record of the same key after the outage", c.outOfOrder)
	}
}

// chaosSLSFaults reads through a consumer group while the emulator throttles
// (403) and fails (500, 503) a share of the pulls and of the consumer-group
// and shard-listing calls, and SIGKILLs it at seeded random points.
func chaosSLSFaults(t *testing.T, table *chaosTable, sc chaosScale) int {
	began := time.Now()
	addr := startEmulatorProcess(t, "chaos/in:4")
	client := emulatorClient(addr)
	ns := startNATS(t)
	w := newSLSWriter(t, client, "chaos", "in", sc.rate)
	admin := newFaultsAdmin(addr)
	seed := *chaosSeed
	admin.plan(t, faults.Plan{Seed: &seed, Faults: []faults.Fault{
		{Match: faults.Match{Kind: faults.Read, Logstore: "in"}, Probability: 0.15, Status: 403},
		{Match: faults.Match{Kind: faults.Read, Logstore: "in"}, Probability: 0.10, Status: 500},
		{Match: faults.Match{Kind: faults.Read, Logstore: "in"}, Probability: 0.05, Status: 503},
		{Match: faults.Match{Kind: faults.Meta, Logstore: "in"}, Probability: 0.15, Status: 503},
		{Match: faults.Match{Kind: faults.Meta, Logstore: "in"}, Probability: 0.05, Status: 500},
	}})
	stopWriter, written := startWriter(t, w, sc.faultRecords)
	path := writeChaosFile(t, slsToJetStream("chaos-faults", addr, ns.URL(), "FAULTS", `    consumer_group: chaos-faults
    group_mode: distributed
    consumer_name: only
    heartbeat_interval: 1s
    heartbeat_timeout: 4s
    retry: {base_backoff: 20ms, max_backoff: 500ms}`))
	stream := watchStream(t, ns.URL(), "FAULTS")

	points := killPoints(chaosRNG(3), sc.faultKills, sc.faultRecords/10, sc.faultRecords*8/10)
	kills, r := runKilled(t, sc, path, points, 200, sc.faultRecords, func() int { return int(stream.msgs()) })
	procs := []*chaosProcess{r}
	<-written
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	awaitCond(t, "every record", sc.deliverWithin, procs, func() bool { return int(stream.msgs()) >= sc.faultRecords })
	stats := admin.clear(t)
	if code := r.stop(t); code != 0 {
		t.Errorf("slspipe exited %d after SIGTERM; log tail:\n%s", code, r.tail(40))
	}
	c := tallyStream(t, stream, w.records())
	if stats.Stats.Errors == 0 {
		t.Error("no fault was injected; the scenario proves nothing")
	}
	checkJetStream(t, table, c, "SLS → JetStream (consumer group), SLS throttling and 5xx",
		sigkills(kills)+"; 30% of pulls, 20% of group/shard calls failed: "+describeFaults(stats), began)
	return kills
}

// chaosSplitMerge splits a shard and merges its children while logs keep
// arriving, with a SIGKILL between the two: every record arrives once and
// each key's records arrive in the order they were written.
func chaosSplitMerge(t *testing.T, table *chaosTable, sc chaosScale) int {
	began := time.Now()
	addr := startEmulatorProcess(t, "chaos/in:2") // shard 0 [00, 80), shard 1 [80, ff]
	client := emulatorClient(addr)
	ns := startNATS(t)
	w := newSLSWriter(t, client, "chaos", "in", sc.rate)
	stopWriter, written := startWriter(t, w, sc.splitRecords)
	path := writeChaosFile(t, slsToJetStream("chaos-reshard", addr, ns.URL(), "RESHARD", ""))
	stream := watchStream(t, ns.URL(), "RESHARD")
	total := sc.splitRecords

	first := startChaosRun(t, "first run", path)
	if !awaitCond(t, "a fifth of the records", sc.deliverWithin, []*chaosProcess{first}, func() bool { return int(stream.msgs()) >= total/5 }) {
		t.Fatalf("stream at %d; log tail:\n%s", stream.msgs(), first.tail(40))
	}
	if _, err := client.SplitShard("chaos", "in", 0, "40"); err != nil { // children 2 [00, 40) and 3 [40, 80)
		t.Fatal(err)
	}
	first.awaitLog(t, 30*time.Second, `msg="shard done"`, "shard=0 ", "finished=true")
	// Kill it once the children have delivered a little.
	at := stream.msgs()
	if !awaitCond(t, "children read", sc.deliverWithin, []*chaosProcess{first}, func() bool { return stream.msgs() >= at+uint64(total/10) }) {
		t.Fatalf("stream at %d; log tail:\n%s", stream.msgs(), first.tail(40))
	}
	first.kill(t)

	second := startChaosRun(t, "second run", path)
	at = stream.msgs()
	if !awaitCond(t, "the restart delivering", sc.deliverWithin, []*chaosProcess{second}, func() bool { return stream.msgs() >= at+uint64(total/10) }) {
		t.Fatalf("stream at %d; log tail:\n%s", stream.msgs(), second.tail(40))
	}
	if _, err := client.MergeShards("chaos", "in", 2); err != nil { // 2 + 3 → 4 [00, 80)
		t.Fatal(err)
	}
	second.awaitLog(t, 30*time.Second, `msg="shard done"`, "shard=2 ", "finished=true")
	second.awaitLog(t, 30*time.Second, `msg="shard done"`, "shard=3 ", "finished=true")
	<-written
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	awaitCond(t, "every record", sc.deliverWithin, []*chaosProcess{second}, func() bool { return int(stream.msgs()) >= total })
	if code := second.stop(t); code != 0 {
		t.Errorf("second run exited %d after SIGTERM; log tail:\n%s", code, second.tail(40))
	}
	c := tallyStream(t, stream, w.records())
	checkJetStream(t, table, c, "SLS → JetStream, shard split and merge mid-stream", "split 0 → 2+3, merge 2+3 → 4, 1 SIGKILL between", began)
	if c.outOfOrder != 0 {
		t.Errorf("%d records arrived after a later record of the same key (ordered: true)", c.outOfOrder)
	}
	return 1
}

// chaosGroupReplica runs three replicas in one consumer group, SIGKILLs one
// once it owns shards, waits for the others to take them over, and starts
// it again so that shards move back to it.
func chaosGroupReplica(t *testing.T, table *chaosTable, sc chaosScale) int {
	began := time.Now()
	addr := startEmulatorProcess(t, "chaos/in:8")
	client := emulatorClient(addr)
	ns := startNATS(t)
	w := newSLSWriter(t, client, "chaos", "in", sc.rate)
	stopWriter, _ := startWriter(t, w, -1)
	path := writeChaosFile(t, slsToJetStream("chaos-group", addr, ns.URL(), "GROUP", `    consumer_group: chaos-group
    group_mode: distributed
    consumer_name: ${REPLICA}
    heartbeat_interval: 1s
    heartbeat_timeout: 3s`))
	stream := watchStream(t, ns.URL(), "GROUP")

	replicas := map[string]*chaosProcess{}
	for _, name := range []string{"r1", "r2", "r3"} {
		replicas[name] = startChaosRun(t, name, path, "REPLICA="+name)
	}
	alive := func() []*chaosProcess {
		var ps []*chaosProcess
		for _, p := range replicas {
			if !p.exited() {
				ps = append(ps, p)
			}
		}
		return ps
	}
	// Owners as the group's checkpoints show them: who last committed each shard.
	owners := func() map[string][]int {
		cps, err := client.GetCheckpoint("chaos", "in", "chaos-group")
		if err != nil {
			return nil
		}
		held := map[string][]int{}
		for _, cp := range cps {
			if cp.CheckPoint != "" {
				held[cp.Consumer] = append(held[cp.Consumer], cp.ShardID)
			}
		}
		return held
	}
	await := func(what string, cond func() bool) {
		t.Helper()
		if !awaitCond(t, what, sc.deliverWithin, alive(), cond) {
			t.Fatalf("%s: not after %s (stream holds %d, owners %v)", what, sc.deliverWithin, stream.msgs(), owners())
		}
	}

	var r2Shards []int
	await("every replica owning shards", func() bool {
		held := owners()
		r2Shards = held["r2"]
		return len(held["r1"]) > 0 && len(held["r2"]) > 0 && len(held["r3"]) > 0
	})
	replicas["r2"].kill(t)
	atKill := w.records()
	await("r2's shards taken over", func() bool {
		held := owners()
		return len(held["r2"]) == 0 && w.records() >= atKill+sc.groupAfterEvent
	})
	// r2 comes back under the same name: shards move back to it, drained
	// and released by their current owners.
	replicas["r2"] = startChaosRun(t, "r2 (restarted)", path, "REPLICA=r2")
	await("r2 owning shards again", func() bool { return len(owners()["r2"]) > 0 })
	atRejoin := w.records()
	await("more records after the rejoin", func() bool { return w.records() >= atRejoin+sc.groupAfterEvent })
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	total := w.records()
	awaitCond(t, "every record", sc.deliverWithin, alive(), func() bool { return int(stream.msgs()) >= total })
	for _, name := range []string{"r1", "r2", "r3"} {
		if code := replicas[name].stop(t); code != 0 {
			t.Errorf("replica %s exited %d after SIGTERM; log tail:\n%s", name, code, replicas[name].tail(40))
		}
	}
	c := tallyStream(t, stream, total)
	checkJetStream(t, table, c, "SLS → JetStream, 3 replicas in a consumer group",
		fmt.Sprintf("replica r2 SIGKILLed holding shards %v, restarted", r2Shards), began)
	return 1
}

// chaosSLSSink reads a JetStream stream into an SLS logstore and SIGKILLs
// the pipeline at seeded random points while the emulator throttles and
// fails a share of the writes. The SLS sink is at-least-once: duplicates
// are counted, losses fail.
func chaosSLSSink(t *testing.T, table *chaosTable, sc chaosScale) int {
	began := time.Now()
	addr := startEmulatorProcess(t, "chaos/out:2")
	client := emulatorClient(addr)
	if _, err := client.GetLogStore("chaos", "out"); err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t)
	total := sc.sinkRecords

	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CHIN", Subjects: []string{"chin.>"}}); err != nil {
		t.Fatal(err)
	}
	kseq := make([]int, chaosKeys)
	for i := range total {
		k := (i / 20) % chaosKeys
		ev, _ := json.Marshal(chaosRecord{Seq: strconv.Itoa(i), Key: chaosKey(k), KSeq: strconv.Itoa(kseq[k])})
		kseq[k]++
		if _, err := js.PublishAsync("chin.events", ev, jetstream.WithStallWait(30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishing the source records timed out")
	}

	admin := newFaultsAdmin(addr)
	seed := *chaosSeed
	admin.plan(t, faults.Plan{Seed: &seed, Faults: []faults.Fault{
		{Match: faults.Match{Kind: faults.Write, Logstore: "out"}, Probability: 0.10, Status: 503},
		{Match: faults.Match{Kind: faults.Write, Logstore: "out"}, Probability: 0.05, Status: 403},
	}})
	path := writeChaosFile(t, fmt.Sprintf(`version: 1
name: chaos-sls-sink
source:
  nats: {url: %s, stream: CHIN, durable: chaos, batch: 200, ack_wait: 2s}
sink:
  sls:
    endpoint: http://%s
    project: chaos
    logstore: out
    access_key_id: %s
    access_key_secret: %s
    partitioner: field
    partition_field: key
    linger: 50ms
    max_batch_count: 200
    retries: 30
    base_backoff: 20ms
    max_backoff: 500ms
checkpoint: {path: ./state.db, interval: 100ms}
limits: {shutdown_timeout: 20s}
metrics: {listen: ""}
`, ns.URL(), addr, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret))

	acked := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, "CHIN", "chaos")
		if err != nil {
			return 0
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0
		}
		return int(info.AckFloor.Stream)
	}
	points := killPoints(chaosRNG(6), sc.sinkKills, total/10, total*8/10)
	kills, final := runKilled(t, sc, path, points, total/50, total, acked)
	awaitCond(t, "every message acknowledged", sc.deliverWithin, []*chaosProcess{final}, func() bool { return acked() >= total })
	stats := admin.clear(t)
	if code := final.stop(t); code != 0 {
		t.Errorf("final run exited %d after SIGTERM; log tail:\n%s", code, final.tail(40))
	}
	c := tallySLS(t, client, "chaos", "out", total)
	row := c.row("JetStream → SLS sink, repeated SIGKILL + write faults", sigkills(kills)+"; 15% of writes failed: "+describeFaults(stats), time.Since(began))
	row.outOfOrder = "—"
	table.add(row)
	t.Logf("SLS sink: produced %d, %d logs, %d distinct, %d lost, %d duplicated (at-least-once)", c.produced, c.messages, c.delivered, c.lost, c.duplicated)
	if c.lost != 0 || c.unexpected != 0 {
		t.Errorf("%d records lost, %d unexpected in the SLS logstore; want none", c.lost, c.unexpected)
	}
	return kills
}
