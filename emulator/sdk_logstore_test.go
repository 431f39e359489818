package emulator_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/slspipe/slspipe/emulator"
)

// TestSDKLogstoreLifecycle drives project and logstore CRUD and ListShards
// through the official client, signed v1 and v4.
func TestSDKLogstoreLifecycle(t *testing.T) {
	for _, sig := range []signing{signV1, signV4} {
		t.Run(sig.String(), func(t *testing.T) {
			srv := startEmulator(t, emulator.Config{})
			c := defaultClient(srv, sig)

			if _, err := c.CreateProject("shop", "orders"); err != nil {
				t.Fatalf("CreateProject: %v", err)
			}
			p, err := c.GetProject("shop")
			if err != nil || p.Description != "orders" {
				t.Fatalf("GetProject = %+v, %v", p, err)
			}
			_, err = c.CreateProject("shop", "again")
			wantSLSError(t, err, http.StatusBadRequest, "ProjectAlreadyExist")

			if err := c.CreateLogStore("shop", "orders", 3, 4, true, 16); err != nil {
				t.Fatalf("CreateLogStore: %v", err)
			}
			wantSLSError(t, c.CreateLogStore("shop", "orders", 3, 4, true, 16), http.StatusBadRequest, "LogStoreAlreadyExist")
			ls, err := c.GetLogStore("shop", "orders")
			if err != nil {
				t.Fatalf("GetLogStore: %v", err)
			}
			if ls.TTL != 3 || ls.ShardCount != 4 || !ls.AutoSplit || ls.MaxSplitShard != 16 {
				t.Fatalf("GetLogStore = ttl %d shards %d autoSplit %v max %d", ls.TTL, ls.ShardCount, ls.AutoSplit, ls.MaxSplitShard)
			}
			if err := c.UpdateLogStore("shop", "orders", 9, 4); err != nil {
				t.Fatalf("UpdateLogStore: %v", err)
			}
			if ls, _ := c.GetLogStore("shop", "orders"); ls.TTL != 9 {
				t.Fatalf("TTL after update = %d, want 9", ls.TTL)
			}
			if err := c.CreateLogStore("shop", "audit", 1, 1, false, 0); err != nil {
				t.Fatalf("CreateLogStore audit: %v", err)
			}
			names, err := c.ListLogStore("shop")
			if err != nil || !slices.Equal(names, []string{"audit", "orders"}) {
				t.Fatalf("ListLogStore = %v, %v", names, err)
			}

			page, err := c.ListLogStoreV2("shop", 1, 1, "")
			if err != nil || !slices.Equal(page, []string{"orders"}) {
				t.Fatalf("ListLogStoreV2(offset 1, size 1) = %v, %v", page, err)
			}

			shards, err := c.ListShards("shop", "orders")
			if err != nil {
				t.Fatalf("ListShards: %v", err)
			}
			want := [][2]string{
				{"00000000000000000000000000000000", "40000000000000000000000000000000"},
				{"40000000000000000000000000000000", "80000000000000000000000000000000"},
				{"80000000000000000000000000000000", "c0000000000000000000000000000000"},
				{"c0000000000000000000000000000000", "ffffffffffffffffffffffffffffffff"},
			}
			if len(shards) != len(want) {
				t.Fatalf("ListShards returned %d shards, want 4", len(shards))
			}
			for i, sh := range shards {
				if sh.ShardID != i || sh.Status != "readwrite" || sh.InclusiveBeginKey != want[i][0] || sh.ExclusiveBeginKey != want[i][1] || sh.CreateTime == 0 {
					t.Errorf("shard %d = %+v, want range %v readwrite", i, sh, want[i])
				}
			}

			if err := c.DeleteLogStore("shop", "orders"); err != nil {
				t.Fatalf("DeleteLogStore: %v", err)
			}
			_, err = c.GetLogStore("shop", "orders")
			wantSLSError(t, err, http.StatusNotFound, "LogStoreNotExist")
			_, err = c.ListShards("shop", "orders")
			wantSLSError(t, err, http.StatusNotFound, "LogStoreNotExist")
			_, err = c.GetLogStore("nosuchproject", "orders")
			wantSLSError(t, err, http.StatusNotFound, "ProjectNotExist")
		})
	}
}

// TestSDKRejectsBadCredentials checks a wrong secret or unknown key is
// refused with 401 and stores nothing.
func TestSDKRejectsBadCredentials(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		AccessKeys: map[string]string{"ak-test": "sk-test"},
		Logstores:  []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 1}},
	})
	good := newClient(srv, signV1, "ak-test", "sk-test")
	for _, sig := range []signing{signV1, signV4} {
		t.Run(sig.String(), func(t *testing.T) {
			wrongSecret := newClient(srv, sig, "ak-test", "not-the-secret")
			wantSLSError(t, wrongSecret.PutLogs("demo", "nginx", makeGroup("x", 1)), http.StatusUnauthorized, "SignatureNotMatch")
			_, err := wrongSecret.ListShards("demo", "nginx")
			wantSLSError(t, err, http.StatusUnauthorized, "SignatureNotMatch")

			unknown := newClient(srv, sig, "ak-nobody", "sk-test")
			wantSLSError(t, unknown.PutLogs("demo", "nginx", makeGroup("x", 1)), http.StatusUnauthorized, "InvalidAccessKeyId")

			// The default local key is not accepted when keys are configured.
			def := defaultClient(srv, sig)
			wantSLSError(t, def.PutLogs("demo", "nginx", makeGroup("x", 1)), http.StatusUnauthorized, "InvalidAccessKeyId")
		})
	}
	begin, _ := good.GetCursor("demo", "nginx", 0, "begin")
	end, err := good.GetCursor("demo", "nginx", 0, "end")
	if err != nil || begin != end {
		t.Fatalf("shard holds data after refused writes: begin %s end %s err %v", begin, end, err)
	}
}
