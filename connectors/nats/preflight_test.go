package nats

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/internal/preflight"
	"github.com/slspipe/slspipe/internal/preflight/preflighttest"
)

func TestCheckSinkCorePublishDenied(t *testing.T) {
	srv := startServer(t, natsserver.Options{Configure: func(o *server.Options) {
		o.Users = []*server.User{{
			Username: "writer", Password: "s3cret-pw",
			Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{"allowed.>"}},
			},
		}}
	}})
	cfg := sinkConfig(srv.URL())
	cfg.Mode, cfg.Stream = "core", ""
	cfg.User, cfg.Password = "writer", configSecret("s3cret-pw")
	ctx := context.Background()

	cfg.Subject = "denied.x"
	res := CheckSink(ctx, cfg, preflight.Options{})
	if r := preflighttest.Result(t, res, "connect"); r.Status != preflight.OK {
		t.Fatalf("connect = %+v", r)
	}
	if r := preflighttest.Result(t, res, "publish"); r.Status != preflight.Skipped {
		t.Fatalf("publish without WriteTest = %+v, want skipped", r)
	}
	res = CheckSink(ctx, cfg, preflight.Options{WriteTest: true, Host: "h"})
	if r := preflighttest.Result(t, res, "publish"); r.Status != preflight.Missing || !strings.Contains(r.Fix, "denied.x") {
		t.Fatalf("denied publish = %+v, want missing naming the subject", r)
	}

	cfg.Subject = "allowed.x"
	res = CheckSink(ctx, cfg, preflight.Options{WriteTest: true, Host: "h"})
	if r := preflighttest.Result(t, res, "publish"); r.Status != preflight.OK {
		t.Fatalf("allowed publish = %+v", r)
	}

	cfg.Password = configSecret("wrong-pw")
	res = CheckSink(ctx, cfg, preflight.Options{})
	r := preflighttest.Result(t, res, "connect")
	if r.Status != preflight.Failed || !strings.Contains(r.Detail, "refused the credentials") {
		t.Fatalf("wrong password = %+v", r)
	}
	for _, r := range res {
		if strings.Contains(r.Detail+r.Fix+r.Resource, "pw") {
			t.Errorf("result %+v shows the password", r)
		}
	}
}

func TestCheckSinkStreamLookups(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	_, js := client(t, srv.URL())
	createStream(t, js, "LOGS", "logs.>")
	ctx := context.Background()

	cfg := sinkConfig(srv.URL())
	cfg.Stream, cfg.Subject = "", "logs.nginx"
	if r := preflighttest.Result(t, CheckSink(ctx, cfg, preflight.Options{}), "JetStream stream of subject"); r.Status != preflight.OK || !strings.Contains(r.Detail, "LOGS") {
		t.Fatalf("subject captured by LOGS = %+v", r)
	}
	cfg.Subject = "other.nginx"
	if r := preflighttest.Result(t, CheckSink(ctx, cfg, preflight.Options{}), "JetStream stream of subject"); r.Status != preflight.Missing {
		t.Fatalf("subject no stream captures = %+v", r)
	}
	cfg.Stream = "LOGS"
	if r := preflighttest.Result(t, CheckSink(ctx, cfg, preflight.Options{}), "JetStream stream"); r.Status != preflight.Missing || !strings.Contains(r.Detail, "not subject") {
		t.Fatalf("stream not capturing the subject = %+v", r)
	}
	cfg.Stream, cfg.CreateStream = "NEW", true
	if r := preflighttest.Result(t, CheckSink(ctx, cfg, preflight.Options{}), "JetStream stream"); r.Status != preflight.Skipped || !strings.Contains(r.Detail, "run creates it") {
		t.Fatalf("stream to be created = %+v", r)
	}
	if _, err := js.Stream(ctx, "NEW"); err == nil {
		t.Fatal("check created the stream")
	}

	src := config.NATSSource{NATSConn: config.NATSConn{URL: srv.URL()}, Stream: "LOGS", Durable: "d"}
	res := CheckSource(ctx, src)
	if r := preflighttest.Result(t, res, "durable consumer"); r.Status != preflight.Skipped {
		t.Fatalf("absent durable = %+v", r)
	}
	src.Stream = "NOPE"
	if r := preflighttest.Result(t, CheckSource(ctx, src), "JetStream stream"); r.Status != preflight.Missing {
		t.Fatalf("absent stream = %+v", r)
	}
}
