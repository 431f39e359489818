package groups

import (
	"net/http"
	"testing"
	"time"
)

func TestCheckpointErrors(t *testing.T) {
	f := newFixture(t, 10, false, rwShards(2))
	wantShards(t, "A", f.beat("A"), 0, 1)
	wantShards(t, "B", f.beat("B"))
	wantShards(t, "A gives up 1", f.beat("A", 0, 1), 0)
	wantShards(t, "A released 1", f.beat("A", 0), 0)
	wantShards(t, "B takes 1", f.beat("B"), 1)

	cases := []struct {
		name     string
		group    string
		consumer string
		force    bool
		shard    int
		cp       string
		status   int
		code     string
	}{
		{"unknown group", "nope", "A", true, 0, cursor(1), http.StatusNotFound, "ConsumerGroupNotExist"},
		{"no consumer without force", testGroup, "", false, 0, cursor(1), http.StatusBadRequest, "ParameterInvalid"},
		{"not base64", testGroup, "A", true, 0, "not base64!", http.StatusBadRequest, "InvalidShardCheckPoint"},
		{"empty", testGroup, "A", true, 0, "", http.StatusBadRequest, "InvalidShardCheckPoint"},
		{"unknown shard", testGroup, "A", true, 7, cursor(1), http.StatusNotFound, "ShardNotExsit"},
		{"unknown consumer", testGroup, "Z", false, 0, cursor(1), http.StatusBadRequest, "ConsumerNotExsit"},
		{"shard of another consumer", testGroup, "A", false, 1, cursor(1), http.StatusBadRequest, "ConsumerNotMatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := f.reg.updateCheckpoint(groupKey{testProject, testLogstore, c.group}, f.shards, c.consumer, c.force, c.shard, c.cp)
			wantAPIError(t, err, c.status, c.code)
			if _, ok := f.reg.Checkpoint(testProject, testLogstore, testGroup, c.shard); ok {
				t.Fatalf("a refused update stored a checkpoint for shard %d", c.shard)
			}
		})
	}
}

func TestCheckpointUpdatesAndReads(t *testing.T) {
	f := newFixture(t, 10, false, rwShards(3))
	wantShards(t, "A", f.beat("A"), 0, 1, 2)
	if err := f.commit("A", false, 0, cursor(3)); err != nil {
		t.Fatalf("owner without force: %v", err)
	}
	f.clock.Advance(time.Second)
	// forceSuccess skips the ownership check, and needs no consumer: that
	// is how tools reset a group's position.
	if err := f.commit("", true, 1, cursor(4)); err != nil {
		t.Fatalf("forced without consumer: %v", err)
	}
	if err := f.commit("Z", true, 0, cursor(5)); err != nil {
		t.Fatalf("forced by a stranger: %v", err)
	}

	all, err := f.reg.getCheckpoints(f.key(), f.shards, -1)
	if err != nil {
		t.Fatal(err)
	}
	want := []checkpointJSON{
		{Shard: 0, Checkpoint: cursor(5), UpdateTime: f.clock.Now().UnixMicro(), Consumer: "Z"},
		{Shard: 1, Checkpoint: cursor(4), UpdateTime: f.clock.Now().UnixMicro(), Consumer: ""},
		{Shard: 2},
	}
	if len(all) != len(want) {
		t.Fatalf("got %+v, want %+v", all, want)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Fatalf("entry %d: got %+v, want %+v", i, all[i], want[i])
		}
	}

	one, err := f.reg.getCheckpoints(f.key(), f.shards, 1)
	if err != nil || len(one) != 1 || one[0] != want[1] {
		t.Fatalf("shard 1: got %+v, %v", one, err)
	}
	none, err := f.reg.getCheckpoints(f.key(), f.shards, 9)
	if err != nil || len(none) != 0 {
		t.Fatalf("unknown shard: got %+v, %v, want []", none, err)
	}
	_, err = f.reg.getCheckpoints(groupKey{testProject, testLogstore, "nope"}, f.shards, -1)
	wantAPIError(t, err, http.StatusNotFound, "ConsumerGroupNotExist")
}

func TestCursorReached(t *testing.T) {
	cases := []struct {
		cp, end string
		want    bool
	}{
		{cursor(5), cursor(5), true},
		{cursor(6), cursor(5), true},
		{cursor(4), cursor(5), false},
		{cursor(9), cursor(10), false}, // numeric, not textual, order
		{"opaque", "opaque", true},
		{"opaque", cursor(1), false},
	}
	for _, c := range cases {
		if got := cursorReached(c.cp, c.end); got != c.want {
			t.Errorf("cursorReached(%q, %q) = %v, want %v", c.cp, c.end, got, c.want)
		}
	}
}
