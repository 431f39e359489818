package emulator_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
)

func cursorValue(t *testing.T, c string) int64 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("cursor %q is not base64: %v", c, err)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		t.Fatalf("cursor %q is not a decimal integer: %v", c, err)
	}
	return v
}

func cursorOf(v int64) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(v, 10)))
}

// TestSDKWriteRouteAndPull writes with PutLogs and PostLogStoreLogs (hash
// keys) in every compression, then reads back with PullLogs in lz4 and
// zstd, checking routing, content, cursors and end_cursor.
func TestSDKWriteRouteAndPull(t *testing.T) {
	for _, sig := range []signing{signV1, signV4} {
		t.Run(sig.String(), func(t *testing.T) {
			srv := startEmulator(t, emulator.Config{
				Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 4}},
			})
			c := defaultClient(srv, sig)

			// Hash-keyed writes land on the shard whose range holds the key.
			routes := map[string]int{
				"00": 0, "3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF": 0, "4": 1, "7f0a": 1,
				"80000000000000000000000000000000": 2, "bf": 2, "c0": 3, "ffffffffffffffffffffffffffffffff": 3,
			}
			wantTags := map[int][]string{}
			written := map[string]*sls.LogGroup{}
			i := 0
			for key, shard := range routes {
				tag := fmt.Sprintf("key-%s", key)
				key := key
				compress := []int{sls.Compress_LZ4, sls.Compress_ZSTD, sls.Compress_None}[i%3]
				i++
				written[tag] = makeGroup(tag, 5)
				err := c.PostLogStoreLogsV2("demo", "nginx", &sls.PostLogStoreLogsRequest{
					LogGroup: written[tag], HashKey: &key, CompressType: compress,
				})
				if err != nil {
					t.Fatalf("PostLogStoreLogs key %s: %v", key, err)
				}
				wantTags[shard] = append(wantTags[shard], tag)
			}
			// Load-balanced writes spread over every readwrite shard.
			for i := range 8 {
				if err := c.PutLogs("demo", "nginx", makeGroup(fmt.Sprintf("lb-%d", i), 3)); err != nil {
					t.Fatalf("PutLogs: %v", err)
				}
			}
			total := 0
			for shard := range 4 {
				tags := readAll(t, c, "demo", "nginx", shard)
				total += len(tags)
				var keyed []string
				lb := 0
				for _, tg := range tags {
					if len(tg) > 3 && tg[:3] == "lb-" {
						lb++
					} else {
						keyed = append(keyed, tg)
					}
				}
				if !slices.Equal(keyed, wantTags[shard]) {
					t.Errorf("shard %d keyed groups = %v, want %v", shard, keyed, wantTags[shard])
				}
				if lb == 0 {
					t.Errorf("shard %d got no load-balanced group", shard)
				}
			}
			if total != len(routes)+8 {
				t.Fatalf("read %d groups, wrote %d", total, len(routes)+8)
			}

			// Content round-trips exactly, in lz4 and zstd.
			lz, err := pullWith(c, 0, sls.Compress_LZ4)
			if err != nil {
				t.Fatal(err)
			}
			zs, err := pullWith(c, 0, sls.Compress_ZSTD)
			if err != nil {
				t.Fatal(err)
			}
			if !sameProto(t, lz, zs) {
				t.Fatal("zstd pull differs from lz4 pull")
			}
			want := written["key-00"]
			got := findGroup(lz, "key-00")
			if got == nil || len(got.Logs) != 5 || got.GetTopic() != want.GetTopic() || !sameProto(t, got.Logs[4], want.Logs[4]) {
				t.Fatalf("group key-00 did not round-trip: %v", got)
			}

			// Cursors are consecutive per group; read-last-cursor stamps groups.
			begin, _ := c.GetCursor("demo", "nginx", 0, "begin")
			end, _ := c.GetCursor("demo", "nginx", 0, "end")
			n := len(lz.LogGroups)
			if cursorValue(t, end)-cursorValue(t, begin) != int64(n) {
				t.Fatalf("end-begin = %d, shard holds %d groups", cursorValue(t, end)-cursorValue(t, begin), n)
			}
			gl, plm, err := c.PullLogsWithQuery(&sls.PullLogRequest{Project: "demo", Logstore: "nginx", ShardID: 0, Cursor: begin, LogGroupMaxCount: 2})
			if err != nil {
				t.Fatalf("PullLogs count 2: %v", err)
			}
			if plm.Count != 2 || len(gl.LogGroups) != 2 || cursorValue(t, plm.NextCursor) != cursorValue(t, begin)+2 {
				t.Fatalf("count-2 pull: count %d groups %d next %s", plm.Count, len(gl.LogGroups), plm.NextCursor)
			}
			for i, g := range gl.LogGroups {
				if g.GetCursor() != cursorOf(cursorValue(t, begin)+int64(i)) {
					t.Errorf("group %d cursor = %q, want begin+%d", i, g.GetCursor(), i)
				}
			}

			// end_cursor bounds the pull.
			stop := cursorOf(cursorValue(t, begin) + 1)
			gl, next, err := c.PullLogs("demo", "nginx", 0, begin, stop, 1000)
			if err != nil || len(gl.LogGroups) != 1 || next != stop {
				t.Fatalf("pull to end_cursor: %d groups next %s err %v", len(gl.LogGroups), next, err)
			}

			// At the end: no groups and the same cursor back.
			gl, next, err = c.PullLogs("demo", "nginx", 0, end, "", 100)
			if err != nil || len(gl.LogGroups) != 0 || next != end {
				t.Fatalf("pull at end: %d groups next %s (end %s) err %v", len(gl.LogGroups), next, end, err)
			}
			raw, next, err := c.GetLogsBytes("demo", "nginx", 0, end, "", 100)
			if err != nil || len(raw) != 0 || next != end {
				t.Fatalf("GetLogsBytes at end: %d bytes next %s err %v", len(raw), next, err)
			}
		})
	}
}

func pullWith(c sls.ClientInterface, shard, compress int) (*sls.LogGroupList, error) {
	cur, err := c.GetCursor("demo", "nginx", shard, "begin")
	if err != nil {
		return nil, err
	}
	gl, _, err := c.PullLogsWithQuery(&sls.PullLogRequest{
		Project: "demo", Logstore: "nginx", ShardID: shard, Cursor: cur, LogGroupMaxCount: 1000, CompressType: compress,
	})
	if err != nil {
		return nil, fmt.Errorf("pull compress %d: %w", compress, err)
	}
	return gl, nil
}

// sameProto compares messages by their encoding (the SDK's types carry
// unexported fields that proto.Equal cannot walk).
func sameProto(t *testing.T, a, b proto.Message) bool {
	t.Helper()
	ab, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ab, bb)
}

func findGroup(gl *sls.LogGroupList, tag string) *sls.LogGroup {
	for _, g := range gl.LogGroups {
		if groupTag(g) == tag {
			return g
		}
	}
	return nil
}

// TestSDKTimeCursors checks GetCursor by time and GetCursorTime against
// the groups' receive times.
func TestSDKTimeCursors(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 1}},
	})
	for _, sig := range []signing{signV1, signV4} {
		c := defaultClient(srv, sig)
		before := time.Now().Unix()
		for i := range 3 {
			if err := c.PutLogs("demo", "nginx", makeGroup(fmt.Sprint(i), 1)); err != nil {
				t.Fatal(err)
			}
		}
		after := time.Now().Unix()
		begin, _ := c.GetCursor("demo", "nginx", 0, "begin")
		end, _ := c.GetCursor("demo", "nginx", 0, "end")

		ct, err := c.GetCursorTime("demo", "nginx", 0, begin)
		if err != nil {
			t.Fatalf("%v GetCursorTime: %v", sig, err)
		}
		if ct.Unix() < before || ct.Unix() > after {
			t.Fatalf("%v cursor time %d outside the write window [%d, %d]", sig, ct.Unix(), before, after)
		}
		if cur, err := c.GetCursor("demo", "nginx", 0, "0"); err != nil || cur != begin {
			t.Fatalf("%v GetCursor(0) = %s, %v; want begin %s", sig, cur, err, begin)
		}
		if cur, _ := c.GetCursor("demo", "nginx", 0, strconv.FormatInt(after+3600, 10)); cur != end {
			t.Fatalf("%v GetCursor(future) = %s, want end %s", sig, cur, end)
		}
		if first, _ := c.GetCursor("demo", "nginx", 0, strconv.FormatInt(before, 10)); cursorValue(t, first) > cursorValue(t, end)-3 {
			t.Fatalf("%v GetCursor(write start) = %s skips groups written after it", sig, first)
		}
		if _, err := c.GetCursorTime("demo", "nginx", 0, end); err != nil {
			t.Fatalf("%v GetCursorTime(end): %v", sig, err)
		}
		_, err = c.GetCursorTime("demo", "nginx", 0, cursorOf(cursorValue(t, end)+5))
		wantSLSError(t, err, http.StatusBadRequest, "InvalidCursor")
		srv.CreateLogstore("demo", "fresh-"+sig.String(), 1)
	}
}

// TestSDKReadErrors checks the service's read errors reach the SDK as
// *sls.Error with the right code and status.
func TestSDKReadErrors(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 2}},
	})
	for _, sig := range []signing{signV1, signV4} {
		t.Run(sig.String(), func(t *testing.T) {
			c := defaultClient(srv, sig)
			if err := c.PutLogs("demo", "nginx", makeGroup("a", 1)); err != nil {
				t.Fatal(err)
			}
			begin, _ := c.GetCursor("demo", "nginx", 0, "begin")
			end, _ := c.GetCursor("demo", "nginx", 0, "end")

			_, _, err := c.PullLogs("demo", "nginx", 0, "bm90IGEgY3Vyc29y", "", 10)
			wantSLSError(t, err, http.StatusBadRequest, "InvalidCursor")
			_, _, err = c.PullLogs("demo", "nginx", 0, "%%%", "", 10)
			wantSLSError(t, err, http.StatusBadRequest, "InvalidCursor")
			_, _, err = c.PullLogs("demo", "nginx", 0, cursorOf(cursorValue(t, end)+1), "", 10)
			wantSLSError(t, err, http.StatusBadRequest, "InvalidCursor")
			_, _, err = c.PullLogs("demo", "nginx", 0, cursorOf(cursorValue(t, begin)-1), "", 10)
			wantSLSError(t, err, http.StatusBadRequest, "InvalidCursor")

			_, _, err = c.PullLogs("demo", "nginx", 7, begin, "", 10)
			wantSLSError(t, err, http.StatusBadRequest, "ShardNotExist")
			_, err = c.GetCursor("demo", "nginx", 7, "begin")
			wantSLSError(t, err, http.StatusBadRequest, "ShardNotExist")

			for _, n := range []int{0, 1001} {
				_, _, err = c.PullLogs("demo", "nginx", 0, begin, "", n)
				wantSLSError(t, err, http.StatusBadRequest, "ParameterInvalid")
			}
			_, err = c.GetCursor("demo", "nginx", 0, "yesterday")
			wantSLSError(t, err, http.StatusBadRequest, "ParameterInvalid")

			_, _, err = c.PullLogs("demo", "missing", 0, begin, "", 10)
			wantSLSError(t, err, http.StatusNotFound, "LogStoreNotExist")
			wantSLSError(t, c.PutLogs("demo", "missing", makeGroup("a", 1)), http.StatusNotFound, "LogStoreNotExist")
			wantSLSError(t, c.PutLogs("nodemo", "nginx", makeGroup("a", 1)), http.StatusNotFound, "ProjectNotExist")

			old := makeGroup("old", 1)
			old.Logs[0].Time = proto.Uint32(uint32(time.Now().Add(-8 * 24 * time.Hour).Unix()))
			wantSLSError(t, c.PutLogs("demo", "nginx", old), http.StatusBadRequest, "InvalidTimestamp")
		})
	}
}

// TestLargePullIsCapped checks a pull of many large groups returns fewer
// than asked, at least one, and continues where it stopped.
func TestLargePullIsCapped(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "big", Shards: 1}},
	})
	c := defaultClient(srv, signV1)
	big := makeGroup("big", 4000) // about 1 MB raw
	const n = 12
	for range n {
		if err := c.PutLogs("demo", "big", big); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ := c.GetCursor("demo", "big", 0, "begin")
	pulls, total := 0, 0
	for {
		gl, next, err := c.PullLogs("demo", "big", 0, cur, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if next == cur {
			break
		}
		if len(gl.LogGroups) == 0 || len(gl.LogGroups) == n {
			t.Fatalf("pull returned %d groups; want a capped, non-empty batch", len(gl.LogGroups))
		}
		pulls++
		total += len(gl.LogGroups)
		cur = next
	}
	if total != n || pulls < 2 {
		t.Fatalf("read %d groups in %d pulls, want %d in at least 2", total, pulls, n)
	}
}
