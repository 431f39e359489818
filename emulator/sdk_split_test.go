package emulator_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator"
)

func shardMap(t *testing.T, c sls.ClientInterface, logstore string) map[int]*sls.Shard {
	t.Helper()
	shards, err := c.ListShards("demo", logstore)
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	m := map[int]*sls.Shard{}
	for _, sh := range shards {
		m[sh.ShardID] = sh
	}
	return m
}

func wantShard(t *testing.T, m map[int]*sls.Shard, id int, status, begin, end string) {
	t.Helper()
	sh, ok := m[id]
	if !ok {
		t.Fatalf("shard %d missing", id)
	}
	if sh.Status != status || sh.InclusiveBeginKey != begin || sh.ExclusiveBeginKey != end {
		t.Fatalf("shard %d = %s [%s, %s), want %s [%s, %s)", id, sh.Status, sh.InclusiveBeginKey, sh.ExclusiveBeginKey, status, begin, end)
	}
}

func postKeyed(t *testing.T, c sls.ClientInterface, logstore, key, tag string) {
	t.Helper()
	if err := c.PostLogStoreLogs("demo", logstore, makeGroup(tag, 2), &key); err != nil {
		t.Fatalf("PostLogStoreLogs %s: %v", key, err)
	}
}

// TestSDKSplitAndMerge splits by key and by count and merges through the
// SDK, checking ranges, readonly parents that stay readable to a fixed end,
// and that writes follow the new layout.
func TestSDKSplitAndMerge(t *testing.T) {
	for _, sig := range []signing{signV1, signV4} {
		t.Run(sig.String(), func(t *testing.T) {
			srv := startEmulator(t, emulator.Config{
				Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 2}},
			})
			c := defaultClient(srv, sig)
			const (
				k0   = "00000000000000000000000000000000"
				k4   = "40000000000000000000000000000000"
				k8   = "80000000000000000000000000000000"
				kmax = "ffffffffffffffffffffffffffffffff"
			)
			postKeyed(t, c, "nginx", "10", "before-1")
			postKeyed(t, c, "nginx", "50", "before-2")
			parentEnd, _ := c.GetCursor("demo", "nginx", 0, "end")

			// Split shard 0 at 0x40…: children 2 and 3.
			got, err := c.SplitShard("demo", "nginx", 0, "40")
			if err != nil {
				t.Fatalf("SplitShard: %v", err)
			}
			if len(got) != 3 {
				t.Fatalf("SplitShard returned %d shards, want parent and two children", len(got))
			}
			m := shardMap(t, c, "nginx")
			wantShard(t, m, 0, "readonly", k0, k8)
			wantShard(t, m, 2, "readwrite", k0, k4)
			wantShard(t, m, 3, "readwrite", k4, k8)

			postKeyed(t, c, "nginx", "10", "after-1") // → 2
			postKeyed(t, c, "nginx", "50", "after-2") // → 3
			if end, _ := c.GetCursor("demo", "nginx", 0, "end"); end != parentEnd {
				t.Fatalf("readonly parent's end moved: %s → %s", parentEnd, end)
			}
			if tags := readAll(t, c, "demo", "nginx", 0); !slices.Equal(tags, []string{"before-1", "before-2"}) {
				t.Fatalf("parent holds %v", tags)
			}
			if tags := readAll(t, c, "demo", "nginx", 2); !slices.Equal(tags, []string{"after-1"}) {
				t.Fatalf("child 2 holds %v", tags)
			}
			if tags := readAll(t, c, "demo", "nginx", 3); !slices.Equal(tags, []string{"after-2"}) {
				t.Fatalf("child 3 holds %v", tags)
			}
			// Load-balanced writes never reach the readonly parent.
			for i := range 6 {
				if err := c.PutLogs("demo", "nginx", makeGroup(fmt.Sprint("lb", i), 1)); err != nil {
					t.Fatal(err)
				}
			}
			if end, _ := c.GetCursor("demo", "nginx", 0, "end"); end != parentEnd {
				t.Fatalf("load-balanced write reached the readonly parent")
			}

			// Splitting a readonly shard or outside the range fails.
			_, err = c.SplitShard("demo", "nginx", 0, "20")
			wantSLSError(t, err, http.StatusBadRequest, "ParameterInvalid")
			_, err = c.SplitShard("demo", "nginx", 2, "90")
			wantSLSError(t, err, http.StatusBadRequest, "ParameterInvalid")

			// Split shard 1 into three even children 4, 5, 6.
			got, err = c.SplitNumShard("demo", "nginx", 1, 3)
			if err != nil || len(got) != 4 {
				t.Fatalf("SplitNumShard: %d shards, %v", len(got), err)
			}
			m = shardMap(t, c, "nginx")
			wantShard(t, m, 1, "readonly", k8, kmax)
			wantShard(t, m, 4, "readwrite", k8, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
			wantShard(t, m, 5, "readwrite", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "d5555555555555555555555555555555")
			wantShard(t, m, 6, "readwrite", "d5555555555555555555555555555555", kmax)

			// Merge 2 with its right neighbour 3 into 7.
			got, err = c.MergeShards("demo", "nginx", 2)
			if err != nil || len(got) != 3 {
				t.Fatalf("MergeShards: %d shards, %v", len(got), err)
			}
			m = shardMap(t, c, "nginx")
			wantShard(t, m, 2, "readonly", k0, k4)
			wantShard(t, m, 3, "readonly", k4, k8)
			wantShard(t, m, 7, "readwrite", k0, k8)
			postKeyed(t, c, "nginx", "50", "merged")
			if tags := readAll(t, c, "demo", "nginx", 7); !slices.Equal(tags, []string{"merged"}) {
				t.Fatalf("merged child holds %v", tags)
			}
			if tags := readAll(t, c, "demo", "nginx", 3); len(tags) == 0 || tags[0] != "after-2" || slices.Contains(tags, "merged") {
				t.Fatalf("merged parent 3 holds %v", tags)
			}
			// The last shard has no right-hand neighbour.
			_, err = c.MergeShards("demo", "nginx", 6)
			wantSLSError(t, err, http.StatusBadRequest, "ParameterInvalid")
		})
	}
}

// TestGoSplitAndMerge uses the Server's own split and merge while an SDK
// client writes.
func TestGoSplitAndMerge(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "app", Shards: 1}},
	})
	c := defaultClient(srv, signV1)
	postKeyed(t, c, "app", "c0", "p")
	kids, err := srv.SplitShard("demo", "app", 0, "80000000000000000000000000000000")
	if err != nil || !slices.Equal(kids, []int{1, 2}) {
		t.Fatalf("SplitShard = %v, %v", kids, err)
	}
	postKeyed(t, c, "app", "c0", "c")
	if tags := readAll(t, c, "demo", "app", 2); !slices.Equal(tags, []string{"c"}) {
		t.Fatalf("child 2 holds %v", tags)
	}
	more, err := srv.SplitShardInto("demo", "app", 1, 4)
	if err != nil || !slices.Equal(more, []int{3, 4, 5, 6}) {
		t.Fatalf("SplitShardInto = %v, %v", more, err)
	}
	merged, err := srv.MergeShards("demo", "app", 3)
	if err != nil || merged != 7 {
		t.Fatalf("MergeShards = %d, %v", merged, err)
	}
	m := shardMap(t, c, "app")
	wantShard(t, m, 7, "readwrite", "00000000000000000000000000000000", "40000000000000000000000000000000")
	if _, err := srv.MergeShards("demo", "app", 3); err == nil {
		t.Fatal("merging a readonly shard succeeded")
	}
}
