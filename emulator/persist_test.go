package emulator_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator"
)

func openAt(t *testing.T, dir string) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{
		DataDir:   dir,
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 2}},
	})
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return srv
}

func shardBytes(t *testing.T, c sls.ClientInterface, shard int) ([]byte, string) {
	t.Helper()
	begin, err := c.GetCursor("demo", "nginx", shard, "begin")
	if err != nil {
		t.Fatal(err)
	}
	b, next, err := c.GetLogsBytes("demo", "nginx", shard, begin, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return b, next
}

// TestPersistenceSurvivesRestart writes, splits and checkpoints, closes,
// reopens the same directory and reads everything back byte for byte, with
// cursors continuing consecutively.
func TestPersistenceSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv := openAt(t, dir)
	c := defaultClient(srv, signV1)
	for i := range 5 {
		key := []string{"10", "90"}[i%2]
		if err := c.PostLogStoreLogs("demo", "nginx", makeGroup("g", 3+i), &key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SplitShard("demo", "nginx", 1, "c0"); err != nil {
		t.Fatal(err)
	}
	if err := c.PutLogs("demo", "nginx", makeGroup("after-split", 2)); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateConsumerGroup("demo", "nginx", sls.ConsumerGroup{ConsumerGroupName: "cg", Timeout: 60, InOrder: true}); err != nil {
		t.Fatalf("CreateConsumerGroup: %v", err)
	}
	_, next0 := shardBytes(t, c, 0)
	if err := c.UpdateCheckpoint("demo", "nginx", "cg", "", 0, next0, true); err != nil {
		t.Fatalf("UpdateCheckpoint: %v", err)
	}

	before := map[int][]byte{}
	shardsBefore, _ := c.ListShards("demo", "nginx")
	ends := map[int]string{}
	for _, sh := range shardsBefore {
		before[sh.ShardID], _ = shardBytes(t, c, sh.ShardID)
		ends[sh.ShardID], _ = c.GetCursor("demo", "nginx", sh.ShardID, "end")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv = openAt(t, dir)
	defer srv.Close()
	c = defaultClient(srv, signV4)
	shardsAfter, err := c.ListShards("demo", "nginx")
	if err != nil || len(shardsAfter) != len(shardsBefore) {
		t.Fatalf("after restart: %d shards (%v), want %d", len(shardsAfter), err, len(shardsBefore))
	}
	for i, sh := range shardsAfter {
		if *sh != *shardsBefore[i] {
			t.Errorf("shard %d after restart = %+v, want %+v", sh.ShardID, sh, shardsBefore[i])
		}
		got, _ := shardBytes(t, c, sh.ShardID)
		if !bytes.Equal(got, before[sh.ShardID]) {
			t.Errorf("shard %d data differs after restart", sh.ShardID)
		}
	}
	cps, err := c.GetCheckpoint("demo", "nginx", "cg")
	if err != nil {
		t.Fatalf("GetCheckpoint: %v", err)
	}
	found := false
	for _, cp := range cps {
		if cp.ShardID == 0 && cp.CheckPoint == next0 {
			found = true
		}
	}
	if !found {
		t.Errorf("checkpoint of shard 0 lost in restart: %+v", cps)
	}

	// Cursors continue: the next group gets the old end cursor.
	key := "10"
	if err := c.PostLogStoreLogs("demo", "nginx", makeGroup("resumed", 1), &key); err != nil {
		t.Fatal(err)
	}
	gl, next, err := c.PullLogs("demo", "nginx", 0, ends[0], "", 10)
	if err != nil || len(gl.LogGroups) != 1 || groupTag(gl.LogGroups[0]) != "resumed" {
		t.Fatalf("pull from pre-restart end: %v, %v", gl, err)
	}
	if cursorValue(t, next) != cursorValue(t, ends[0])+1 {
		t.Fatalf("next cursor %d, want %d", cursorValue(t, next), cursorValue(t, ends[0])+1)
	}
}

// TestPersistenceCutsTornTail checks a segment with a half-written record
// at its end (a crash mid-append) reopens with the complete records.
func TestPersistenceCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	srv := openAt(t, dir)
	c := defaultClient(srv, signV1)
	key := "10"
	for range 3 {
		if err := c.PostLogStoreLogs("demo", "nginx", makeGroup("whole", 2), &key); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := shardBytes(t, c, 0)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "segments", "demo", "nginx", "0.seg")
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0xde, 0xad, 0xbe, 0xef, 0x40, 0, 0, 0, 1, 2, 3})
	f.Close()

	srv = openAt(t, dir)
	defer srv.Close()
	c = defaultClient(srv, signV1)
	got, _ := shardBytes(t, c, 0)
	if !bytes.Equal(got, want) {
		t.Fatal("data differs after reopening a torn segment")
	}
	if err := c.PostLogStoreLogs("demo", "nginx", makeGroup("after", 2), &key); err != nil {
		t.Fatal(err)
	}
	if tags := readAll(t, c, "demo", "nginx", 0); len(tags) != 4 || tags[3] != "after" {
		t.Fatalf("after torn-tail recovery the shard holds %v", tags)
	}
}
