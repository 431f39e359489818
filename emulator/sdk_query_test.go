package emulator_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	gokitlog "github.com/go-kit/kit/log"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
)

// writeStatusGroups writes groups of n logs whose status field cycles
// through 200, 404 and 500 (seq%10 == 7 gives 500, == 3 gives 404), and
// returns how many logs of each status were written.
func writeStatusGroups(t *testing.T, c sls.ClientInterface, groups, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	now := uint32(time.Now().Unix())
	for g := range groups {
		lg := &sls.LogGroup{Topic: proto.String("web"), Source: proto.String("10.0.0.9"),
			LogTags: []*sls.LogTag{{Key: proto.String("host"), Value: proto.String("web-" + strconv.Itoa(g))}}}
		for i := range n {
			seq := g*n + i
			status := "200"
			switch seq % 10 {
			case 7:
				status = "500"
			case 3:
				status = "404"
			}
			if g == 1 { // one group with nothing but 200s
				status = "200"
			}
			counts[status]++
			l := &sls.Log{Time: proto.Uint32(now), TimeNs: proto.Uint32(uint32(i))}
			for _, kv := range [][2]string{{"seq", strconv.Itoa(seq)}, {"status", status}, {"uri", "/a/" + strconv.Itoa(seq)}, {"ua", "curl"}} {
				l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
			}
			lg.Logs = append(lg.Logs, l)
		}
		if err := c.PostLogStoreLogsV2("demo", "web", &sls.PostLogStoreLogsRequest{LogGroup: lg}); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	return counts
}

// TestSDKPullWithQuery pulls with the SDK's PullLogsWithQuery: only the
// logs and fields the statement keeps come back, groups keep their topic,
// source and tags, a group left empty is left out, the cursor moves past
// every group read, and the extra headers report what was read.
func TestSDKPullWithQuery(t *testing.T) {
	for _, compress := range []int{sls.Compress_LZ4, sls.Compress_ZSTD} {
		t.Run(strconv.Itoa(compress), func(t *testing.T) {
			srv := startEmulator(t, emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "web", Shards: 1}}})
			c := defaultClient(srv, signV1)
			counts := writeStatusGroups(t, c, 4, 10)
			begin, err := c.GetCursor("demo", "web", 0, "begin")
			if err != nil {
				t.Fatal(err)
			}
			end, _ := c.GetCursor("demo", "web", 0, "end")
			gl, plm, err := c.PullLogsWithQuery(&sls.PullLogRequest{
				Project: "demo", Logstore: "web", ShardID: 0, Cursor: begin, LogGroupMaxCount: 1000, CompressType: compress,
				Query: "* | where status = '500' | project seq, status",
			})
			if err != nil {
				t.Fatalf("PullLogsWithQuery: %v", err)
			}
			if plm.NextCursor != end {
				t.Errorf("next cursor %s, want the end %s: the cursor moves past filtered-out groups", plm.NextCursor, end)
			}
			kept := 0
			for _, g := range gl.LogGroups {
				if g.GetTopic() != "web" || g.GetSource() != "10.0.0.9" || len(g.LogTags) != 1 || g.LogTags[0].GetKey() != "host" {
					t.Errorf("group attributes lost: topic %q source %q tags %v", g.GetTopic(), g.GetSource(), g.LogTags)
				}
				if g.LogTags[0].GetValue() == "web-1" {
					t.Errorf("the group with no 500 was answered")
				}
				for _, l := range g.Logs {
					kept++
					if len(l.Contents) != 2 || l.Contents[0].GetKey() != "seq" || l.Contents[1].GetValue() != "500" {
						t.Errorf("log kept with contents %v", l.Contents)
					}
					if l.GetTime() == 0 || l.TimeNs == nil {
						t.Errorf("log time lost: %d %v", l.GetTime(), l.TimeNs)
					}
				}
			}
			if kept != counts["500"] || kept == 0 {
				t.Errorf("kept %d logs, want the %d with status 500", kept, counts["500"])
			}
			if len(gl.LogGroups) != 3 || plm.Count != 3 {
				t.Errorf("%d groups (x-log-count %d), want 3: the group with no 500 is left out", len(gl.LogGroups), plm.Count)
			}
			if plm.DataCountBeforeQuery != 4 || plm.LinesBeforeQuery != 40 || plm.Lines != kept || plm.FailedLines != 0 {
				t.Errorf("meta: groups read %d, lines read %d, lines %d, failed %d; want 4, 40, %d, 0",
					plm.DataCountBeforeQuery, plm.LinesBeforeQuery, plm.Lines, plm.FailedLines, kept)
			}
			if plm.RawSizeBeforeQuery <= plm.RawSize || plm.RawSize == 0 {
				t.Errorf("raw size %d before the query, %d after", plm.RawSizeBeforeQuery, plm.RawSize)
			}

			// Every group filtered out: nothing comes back, the cursor still
			// moves to the end.
			gl, plm, err = c.PullLogsWithQuery(&sls.PullLogRequest{
				Project: "demo", Logstore: "web", ShardID: 0, Cursor: begin, LogGroupMaxCount: 2, CompressType: compress,
				Query: "* | where status = 'none'",
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(gl.LogGroups) != 0 || plm.Count != 0 || plm.DataCountBeforeQuery != 2 {
				t.Errorf("all filtered: %d groups, count %d, read %d; want 0, 0, 2", len(gl.LogGroups), plm.Count, plm.DataCountBeforeQuery)
			}
			if cursorValue(t, plm.NextCursor) != cursorValue(t, begin)+2 {
				t.Errorf("all filtered: next cursor %s, want begin+2", plm.NextCursor)
			}

			// A failing cast drops the row and counts it.
			_, plm, err = c.PullLogsWithQuery(&sls.PullLogRequest{
				Project: "demo", Logstore: "web", ShardID: 0, Cursor: begin, LogGroupMaxCount: 1000, CompressType: compress,
				Query: "* | where cast(uri as bigint) > 0",
			})
			if err != nil {
				t.Fatal(err)
			}
			if plm.FailedLines != 40 || plm.Lines != 0 {
				t.Errorf("failing cast: %d failed, %d lines; want 40, 0", plm.FailedLines, plm.Lines)
			}
		})
	}
}

// TestSDKPullWithBadQuery: a malformed or unsupported statement is refused
// with ParameterInvalid and the position of the problem, before anything
// is read.
func TestSDKPullWithBadQuery(t *testing.T) {
	srv := startEmulator(t, emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "web", Shards: 1}}})
	c := defaultClient(srv, signV1)
	begin, _ := c.GetCursor("demo", "web", 0, "begin")
	for stmt, want := range map[string]string{
		"* | where status >= 500":   "line 1, column 18: '>=' cannot be applied to varchar, bigint",
		"* | stats count(*)":        "line 1, column 5: instruction stats is not supported",
		"* | where uri like '/a%'x": "line 1, column 25",
	} {
		_, _, err := c.PullLogsWithQuery(&sls.PullLogRequest{Project: "demo", Logstore: "web", Cursor: begin, LogGroupMaxCount: 10, Query: stmt})
		wantSLSError(t, err, 400, "ParameterInvalid")
		if msg := err.(*sls.Error).Message; !strings.Contains(msg, want) {
			t.Errorf("%q: message %q, want …%s…", stmt, msg, want)
		}
	}
}

// TestConsumerLibraryQuery runs the official consumer library with its
// Query option: the processor sees only the kept logs, and the group's
// checkpoint reaches the end of the shard although most groups were
// filtered out.
func TestConsumerLibraryQuery(t *testing.T) {
	srv := startEmulator(t, emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "web", Shards: 2}}})
	c := defaultClient(srv, signV1)
	counts := writeStatusGroups(t, c, 6, 20)
	var mu sync.Mutex
	seen := map[string]bool{}
	w := consumer.InitConsumerWorkerWithCheckpointTracker(consumer.LogHubConfig{
		Endpoint: srv.Addr(), AccessKeyID: emulator.DefaultAccessKeyID, AccessKeySecret: emulator.DefaultAccessKeySecret,
		Project: "demo", Logstore: "web", ConsumerGroupName: "query-group", ConsumerName: "c1",
		CursorPosition: consumer.BEGIN_CURSOR, HeartbeatIntervalInSecond: 1, DataFetchIntervalInMs: 50,
		AutoCommitDisabled: true, HTTPClient: srv.HTTPClient(), Logger: gokitlog.NewNopLogger(),
		Query: "* | where status = '404' | extend kind = 'client-error'",
	}, func(shard int, gl *sls.LogGroupList, tr consumer.CheckPointTracker) (string, error) {
		mu.Lock()
		for _, g := range gl.LogGroups {
			for _, l := range g.Logs {
				var seq, status, kind string
				for _, kv := range l.Contents {
					switch kv.GetKey() {
					case "seq":
						seq = kv.GetValue()
					case "status":
						status = kv.GetValue()
					case "kind":
						kind = kv.GetValue()
					}
				}
				if status != "404" || kind != "client-error" {
					t.Errorf("consumer got status %q kind %q", status, kind)
				}
				seen[seq] = true
			}
		}
		mu.Unlock()
		return "", tr.SaveCheckPoint(true)
	})
	w.Start()
	defer w.StopAndWait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		done := n == counts["404"]
		if done {
			cps, err := c.GetCheckpoint("demo", "web", "query-group")
			if err == nil && len(cps) == 2 {
				for _, cp := range cps {
					end, _ := c.GetCursor("demo", "web", cp.ShardID, "end")
					done = done && cp.CheckPoint == end
				}
			} else {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d of %d logs with status 404 consumed, checkpoints not at the end", n, counts["404"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ExampleServer_pullWithQuery() {
	srv, _ := emulator.New(emulator.Config{Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "web", Shards: 1}}})
	_ = srv.Start(context.Background(), "127.0.0.1:0")
	defer srv.Close()
	c := sls.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	c.SetHTTPClient(srv.HTTPClient())
	now := uint32(time.Now().Unix())
	g := &sls.LogGroup{}
	for _, st := range []string{"200", "500", "200"} {
		g.Logs = append(g.Logs, &sls.Log{Time: proto.Uint32(now), Contents: []*sls.LogContent{
			{Key: proto.String("status"), Value: proto.String(st)}, {Key: proto.String("uri"), Value: proto.String("/x")},
		}})
	}
	_ = c.PutLogs("demo", "web", g)
	cur, _ := c.GetCursor("demo", "web", 0, "begin")
	gl, meta, _ := c.PullLogsWithQuery(&sls.PullLogRequest{
		Project: "demo", Logstore: "web", Cursor: cur, LogGroupMaxCount: 100,
		Query: "* | where status = '500' | project status",
	})
	fmt.Println(len(gl.LogGroups[0].Logs), gl.LogGroups[0].Logs[0].Contents[0].GetValue(), meta.LinesBeforeQuery, meta.Lines)
	// Output: 1 500 3 1
}
