package sls_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls"
	"github.com/slspipe/slspipe/emulator"
	"github.com/slspipe/slspipe/internal/preflight"
	"github.com/slspipe/slspipe/internal/preflight/preflighttest"
)

// TestCheckSourceV4DeniedGroupCalls checks a v4-signed distributed source
// whose key may not read checkpoints: the denial names the group's
// resource, the pull is probed through the source's own signed requests,
// and heartbeats and checkpoint updates are never sent.
func TestCheckSourceV4DeniedGroupCalls(t *testing.T) {
	srv, err := emulator.New(emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: project, Logstore: logstore, Shards: 3}},
		Denied:    map[string][]string{emulator.DefaultAccessKeyID: {"log:GetConsumerGroup*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cfg := sourceConfig(srv)
	cfg.SignatureVersion, cfg.Region = "v4", "cn-hangzhou"
	cfg.ConsumerGroup, cfg.GroupMode = "cg", "distributed"

	res := sls.CheckSource(context.Background(), cfg, preflight.Options{})
	for _, check := range []string{"ListShards", "GetCursor", "PullLogs", "CreateConsumerGroup", "UpdateConsumerGroup"} {
		if r := preflighttest.Result(t, res, check); r.Status != preflight.OK {
			t.Errorf("%s = %+v, want ok", check, r)
		}
	}
	r := preflighttest.Result(t, res, "GetCheckPoint")
	group := "acs:log:*:*:project/demo/logstore/app/consumergroup/cg"
	if r.Status != preflight.Missing || r.Grant == nil || r.Grant.Resource != group || r.Grant.Action[0] != "log:GetConsumerGroupCheckPoint" {
		t.Fatalf("GetCheckPoint = %+v, grant %+v", r, r.Grant)
	}
	for _, check := range []string{"UpdateCheckPoint", "HeartBeat"} {
		if r := preflighttest.Result(t, res, check); r.Status != preflight.Skipped || r.Grant == nil {
			t.Errorf("%s = %+v, want skipped with a grant", check, r)
		}
	}
	// Had the check joined the group, a replica joining now would share
	// the shards with it; it gets all of them.
	got, err := sdkClient(srv).HeartBeat(project, logstore, "cg", "replica-1", []int{})
	if err != nil || len(got) != 3 {
		t.Fatalf("first replica's heartbeat = %v, %v; want all 3 shards", got, err)
	}
}

func TestCheckSourceUnknownProjectAndUnreachable(t *testing.T) {
	srv := startEmulator(t, 2)
	cfg := sourceConfig(srv)
	cfg.Project = "nope"
	cfg.Logstores = []string{"a", "b"}
	res := sls.CheckSource(context.Background(), cfg, preflight.Options{})
	if r := preflighttest.Result(t, res, "ListShards"); r.Status != preflight.Missing || !strings.Contains(r.Detail, "ProjectNotExist") {
		t.Fatalf("ListShards in a missing project = %+v", r)
	}
	for _, r := range res[2:] { // after credentials and ListShards
		if r.Status != preflight.Skipped {
			t.Errorf("after a missing project, %s = %+v, want skipped", r.Check, r)
		}
	}

	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sink := config.SLSSink{SLSAuth: sourceConfig(srv).SLSAuth, Logstore: logstore}
	sink.Endpoint = "http://" + addr
	res = sls.CheckSink(context.Background(), sink, preflight.Options{WriteTest: true})
	if r := preflighttest.Result(t, res, "ListShards"); r.Status != preflight.Failed || !strings.Contains(r.Detail, "unreachable") {
		t.Fatalf("ListShards at a closed port = %+v", r)
	}
	if r := preflighttest.Result(t, res, "PostLogStoreLogs"); r.Status != preflight.Skipped {
		t.Fatalf("write after an unreachable endpoint = %+v", r)
	}
}
