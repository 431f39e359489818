package groups_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/groups"
)

const (
	project  = "proj"
	logstore = "store"
)

// serveGroups serves reg the way the emulator mounts it, for the official SDK
// client it returns. Signatures are not checked here; the emulator's own
// tests cover that.
func serveGroups(t *testing.T, reg *groups.Registry, shards []groups.ShardInfo) sls.ClientInterface {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		proj, _, _ := strings.Cut(req.Host, ".")
		rest, ok := strings.CutPrefix(req.URL.Path, "/logstores/")
		var ls, sub string
		if ok {
			ls, sub, ok = strings.Cut(rest, "/consumergroups")
		}
		var err error
		if !ok {
			err = apierr.New(http.StatusNotFound, "NotFound", "no route for %s", req.URL.Path)
		} else {
			body, _ := io.ReadAll(req.Body)
			err = reg.Handle(w, req, body, proj, ls, sub, func() ([]groups.ShardInfo, error) {
				if ls != logstore {
					return nil, apierr.New(http.StatusNotFound, "LogStoreNotExist", "logstore %s does not exist", ls)
				}
				return shards, nil
			})
		}
		if err != nil {
			var ae *apierr.Error
			if !errors.As(err, &ae) {
				t.Errorf("Handle returned %T %v, want *apierr.Error", err, err)
				ae = apierr.New(500, "InternalServerError", "%v", err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("x-log-requestid", "test")
			w.WriteHeader(ae.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": ae.Code, "errorMessage": ae.Message})
		}
	}))
	t.Cleanup(srv.Close)

	addr := srv.Listener.Addr().String()
	var d net.Dialer
	hc := &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
	client := sls.CreateNormalInterface(addr, "ak", "sk", "")
	client.SetHTTPClient(hc)
	t.Cleanup(func() { hc.CloseIdleConnections() })
	return client
}

func cursor(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// wantSLSError checks the error the SDK returned.
func wantSLSError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *sls.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want *sls.Error %d %s", err, err, status, code)
	}
	if se.HTTPCode != int32(status) || se.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", se.HTTPCode, se.Code, se.Message, status, code)
	}
}

func TestGroupLifecycleWithSDK(t *testing.T) {
	client := serveGroups(t, groups.NewRegistry(nil), nil)

	if err := client.CreateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "cg-b", Timeout: 60, InOrder: true}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := client.CreateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "cg-a", Timeout: 30}); err != nil {
		t.Fatalf("create: %v", err)
	}
	err := client.CreateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "cg-a", Timeout: 30})
	wantSLSError(t, err, http.StatusBadRequest, "ConsumerGroupAlreadyExist")
	err = client.CreateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "Bad Name", Timeout: 30})
	wantSLSError(t, err, http.StatusBadRequest, "ParameterInvalid")
	err = client.CreateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "cg-c"})
	wantSLSError(t, err, http.StatusBadRequest, "ParameterInvalid")

	list, err := client.ListConsumerGroup(project, logstore)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	got := []sls.ConsumerGroup{}
	for _, g := range list {
		got = append(got, *g)
	}
	want := []sls.ConsumerGroup{
		{ConsumerGroupName: "cg-a", Timeout: 30},
		{ConsumerGroupName: "cg-b", Timeout: 60, InOrder: true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("list: got %+v, want %+v", got, want)
	}
	// Groups belong to one logstore.
	if other, err := client.ListConsumerGroup(project, "other"); err != nil || len(other) != 0 {
		t.Fatalf("list of another logstore: %v %v", other, err)
	}

	if err := client.UpdateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "cg-a", Timeout: 45, InOrder: true}); err != nil {
		t.Fatalf("update: %v", err)
	}
	err = client.UpdateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "nope", Timeout: 45})
	wantSLSError(t, err, http.StatusNotFound, "ConsumerGroupNotExist")

	if err := client.DeleteConsumerGroup(project, logstore, "cg-b"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	err = client.DeleteConsumerGroup(project, logstore, "cg-b")
	wantSLSError(t, err, http.StatusNotFound, "ConsumerGroupNotExist")

	list, err = client.ListConsumerGroup(project, logstore)
	if err != nil || len(list) != 1 || *list[0] != (sls.ConsumerGroup{ConsumerGroupName: "cg-a", Timeout: 45, InOrder: true}) {
		t.Fatalf("list after update and delete: %v %v", list, err)
	}
}

func TestHeartbeatAndCheckpointWithSDK(t *testing.T) {
	shards := []groups.ShardInfo{
		{ID: 0, BeginCursor: cursor("0"), EndCursor: cursor("5")},
		{ID: 1, BeginCursor: cursor("0"), EndCursor: cursor("5")},
	}
	client := serveGroups(t, groups.NewRegistry(nil), shards)
	if err := client.CreateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "cg", Timeout: 60}); err != nil {
		t.Fatal(err)
	}

	_, err := client.HeartBeat(project, logstore, "cg", "c1", []int{0})
	wantSLSError(t, err, http.StatusBadRequest, "NotExistConsumerWithBody")
	got, err := client.HeartBeat(project, logstore, "cg", "c1", nil)
	if err != nil || !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("first heartbeat: %v %v, want [0 1]", got, err)
	}
	got, err = client.HeartBeat(project, logstore, "cg", "c2", nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("second consumer while c1 holds both: %v %v, want []", got, err)
	}
	_, err = client.HeartBeat(project, logstore, "nope", "c1", nil)
	wantSLSError(t, err, http.StatusNotFound, "ConsumerGroupNotExist")
	_, err = client.HeartBeat(project, "other", "cg", "c1", nil)
	wantSLSError(t, err, http.StatusNotFound, "LogStoreNotExist")

	before := time.Now()
	if err := client.UpdateCheckpoint(project, logstore, "cg", "c1", 0, cursor("3"), false); err != nil {
		t.Fatalf("update checkpoint: %v", err)
	}
	err = client.UpdateCheckpoint(project, logstore, "cg", "c2", 0, cursor("3"), false)
	wantSLSError(t, err, http.StatusBadRequest, "ConsumerNotMatch")
	err = client.UpdateCheckpoint(project, logstore, "cg", "c1", 0, "%%%", true)
	wantSLSError(t, err, http.StatusBadRequest, "InvalidShardCheckPoint")
	err = client.UpdateCheckpoint(project, logstore, "cg", "c1", 9, cursor("3"), true)
	wantSLSError(t, err, http.StatusNotFound, "ShardNotExsit")

	cps, err := client.GetCheckpoint(project, logstore, "cg")
	if err != nil || len(cps) != 2 {
		t.Fatalf("get checkpoint: %v %v", cps, err)
	}
	cp := cps[0]
	if cp.ShardID != 0 || cp.CheckPoint != cursor("3") || cp.Consumer != "c1" {
		t.Fatalf("checkpoint of shard 0: %+v", *cp)
	}
	if ut := time.UnixMicro(cp.UpdateTime); ut.Before(before.Add(-time.Second)) || ut.After(time.Now().Add(time.Second)) {
		t.Fatalf("updateTime %d is not the update's time in microseconds", cp.UpdateTime)
	}
	if cps[1].ShardID != 1 || cps[1].CheckPoint != "" {
		t.Fatalf("shard 1 without checkpoint: %+v", *cps[1])
	}
}

func TestSnapshotRestore(t *testing.T) {
	shards := []groups.ShardInfo{
		{ID: 0, BeginCursor: cursor("0"), EndCursor: cursor("5")},
		{ID: 1, BeginCursor: cursor("0"), EndCursor: cursor("5")},
	}
	reg := groups.NewRegistry(nil)
	client := serveGroups(t, reg, shards)
	if err := client.CreateConsumerGroup(project, logstore, sls.ConsumerGroup{ConsumerGroupName: "cg", Timeout: 60, InOrder: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.HeartBeat(project, logstore, "cg", "c1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := client.HeartBeat(project, logstore, "cg", "c2", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := client.HeartBeat(project, logstore, "cg", "c1", []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if err := client.UpdateCheckpoint(project, logstore, "cg", "c1", 0, cursor("4"), true); err != nil {
		t.Fatal(err)
	}

	raw, err := json.Marshal(reg.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var st groups.State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	restored := groups.NewRegistry(nil)
	restored.Restore(st)
	again, _ := json.Marshal(restored.Snapshot())
	if string(again) != string(raw) {
		t.Fatalf("snapshot after restore differs:\n%s\n%s", again, raw)
	}

	// The consumers carry on where they were: c1 still holds 0 and keeps
	// it, c2 gets 1 once c1 no longer lists it.
	client = serveGroups(t, restored, shards)
	got, err := client.HeartBeat(project, logstore, "cg", "c1", []int{0, 1})
	if err != nil || !slices.Equal(got, []int{0}) {
		t.Fatalf("c1 after restore: %v %v, want [0]", got, err)
	}
	if _, err := client.HeartBeat(project, logstore, "cg", "c1", []int{0}); err != nil {
		t.Fatal(err)
	}
	got, err = client.HeartBeat(project, logstore, "cg", "c2", nil)
	if err != nil || !slices.Equal(got, []int{1}) {
		t.Fatalf("c2 after restore: %v %v, want [1]", got, err)
	}
	if cp, ok := restored.Checkpoint(project, logstore, "cg", 0); !ok || cp != cursor("4") {
		t.Fatalf("checkpoint after restore: %q %v", cp, ok)
	}

	restored.DropLogstore(project, logstore)
	if list, err := client.ListConsumerGroup(project, logstore); err != nil || len(list) != 0 {
		t.Fatalf("groups after DropLogstore: %v %v", list, err)
	}
}

func TestHandleRejectsMalformedRequests(t *testing.T) {
	reg := groups.NewRegistry(nil)
	shards := func() ([]groups.ShardInfo, error) { return []groups.ShardInfo{{ID: 0}}, nil }
	call := func(method, target, subpath, body string) error {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		return reg.Handle(httptest.NewRecorder(), req, []byte(body), project, logstore, subpath, shards)
	}
	if err := call(http.MethodPost, "/logstores/store/consumergroups", "", `{"consumerGroup":"cg","timeout":10}`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, target, subpath, body string
		status                              int
		code                                string
	}{
		{"create body not json", http.MethodPost, "/logstores/store/consumergroups", "", `{`, 400, "PostBodyInvalid"},
		{"heartbeat body not an int array", http.MethodPost, "/logstores/store/consumergroups/cg?type=heartbeat&consumer=c", "/cg", `{"a":1}`, 400, "PostBodyInvalid"},
		{"heartbeat without consumer", http.MethodPost, "/logstores/store/consumergroups/cg?type=heartbeat", "/cg", `[]`, 400, "ParameterInvalid"},
		{"checkpoint without shard", http.MethodPost, "/logstores/store/consumergroups/cg?type=checkpoint&consumer=c&forceSuccess=true", "/cg", `{"checkpoint":"MQ=="}`, 400, "PostBodyInvalid"},
		{"bad forceSuccess", http.MethodPost, "/logstores/store/consumergroups/cg?type=checkpoint&consumer=c&forceSuccess=maybe", "/cg", `{"shard":0,"checkpoint":"MQ=="}`, 400, "ParameterInvalid"},
		{"unknown type", http.MethodPost, "/logstores/store/consumergroups/cg?type=other", "/cg", `[]`, 400, "ParameterInvalid"},
		{"bad shard query", http.MethodGet, "/logstores/store/consumergroups/cg?shard=x", "/cg", "", 400, "ParameterInvalid"},
		{"update to zero timeout", http.MethodPut, "/logstores/store/consumergroups/cg", "/cg", `{"timeout":0}`, 400, "ParameterInvalid"},
		{"nested path", http.MethodGet, "/logstores/store/consumergroups/cg/x", "/cg/x", "", 404, "ConsumerGroupNotExist"},
		{"method on collection", http.MethodDelete, "/logstores/store/consumergroups", "", "", 405, "MethodNotAllowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := call(c.method, c.target, c.subpath, c.body)
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Status != c.status || ae.Code != c.code {
				t.Fatalf("got %v, want %d %s", err, c.status, c.code)
			}
		})
	}
}
