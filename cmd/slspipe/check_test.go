package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/connectors/nats/natsserver"
	"github.com/slspipe/slspipe/emulator"
)

// checkEnv is an emulator with two keys, "full" and "narrow" (denied
// log:ListShards), and an embedded NATS server with JetStream.
type checkEnv struct {
	sls  *emulator.Server
	nats *natsserver.Server
}

const narrowSecret = "narrow-secret-value"

func startCheckEnv(t *testing.T) *checkEnv {
	t.Helper()
	srv, err := emulator.New(emulator.Config{
		AccessKeys: map[string]string{"full": "full-secret-value", "narrow": narrowSecret},
		Denied:     map[string][]string{"narrow": {"log:ListShards"}},
		Logstores: []emulator.LogstoreSpec{
			{Project: "demo", Logstore: "nginx", Shards: 2},
			{Project: "demo", Logstore: "out", Shards: 2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ns, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return &checkEnv{sls: srv, nats: ns}
}

// createStream creates stream name capturing subjects.
func (e *checkEnv) createStream(t *testing.T, name string, subjects ...string) jetstream.Stream {
	t.Helper()
	nc, err := natsgo.Connect(e.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: name, Subjects: subjects})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *checkEnv) client() sls.ClientInterface {
	c := sls.CreateNormalInterface(e.sls.Addr(), "full", "full-secret-value", "")
	c.SetHTTPClient(e.sls.HTTPClient())
	return c
}

// pipeline writes a pipeline reading logstore with key id and secret, in
// consumer group cg, into a JetStream stream LOGS on subject logs.nginx,
// and into SLS logstore out as dead-letter destination.
func (e *checkEnv) pipeline(t *testing.T, id, secret, logstore string) string {
	t.Helper()
	return writeFile(t, "pipeline.yaml", fmt.Sprintf(`version: 1
name: chk
source:
  sls:
    endpoint: http://%[1]s
    project: demo
    logstore: %[4]s
    access_key_id: %[2]s
    access_key_secret: %[3]s
    consumer_group: cg
on_error: dead_letter
sink:
  nats:
    url: %[5]s
    stream: LOGS
    subject: logs.nginx
dead_letter:
  sls:
    endpoint: http://%[1]s
    project: demo
    logstore: out
    access_key_id: %[2]s
    access_key_secret: %[3]s
`, e.sls.Addr(), id, secret, logstore, e.nats.URL()))
}

func runCheckCmd(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"check"}, args...))
	err = root.ExecuteContext(context.Background())
	t.Logf("slspipe check %s:\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String(), err
}

// reportLine returns the report line with status whose text holds every
// part, or fails the test.
func reportLine(t *testing.T, out, status string, parts ...string) string {
	t.Helper()
next:
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), status+" ") {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		return line
	}
	t.Fatalf("no %s line with %q in the report", status, parts)
	return ""
}

func TestCheckAllOK(t *testing.T) {
	e := startCheckEnv(t)
	e.createStream(t, "LOGS", "logs.>")
	out, err := runCheckCmd(t, e.pipeline(t, "full", "full-secret-value", "nginx"))
	if err != nil {
		t.Fatalf("check with every right: %v", err)
	}
	for _, bad := range []string{"MISSING", "FAILED"} {
		if strings.Contains(out, bad) {
			t.Errorf("report has %s lines", bad)
		}
	}
	const ls = "acs:log:*:*:project/demo/logstore/nginx"
	reportLine(t, out, "ok", "ListShards (log:ListShards)", ls, "2 shards")
	reportLine(t, out, "ok", "GetCursor (log:GetCursorOrData)", ls)
	reportLine(t, out, "ok", "PullLogs (log:GetCursorOrData)", ls)
	reportLine(t, out, "ok", "CreateConsumerGroup (log:CreateConsumerGroup)", ls+"/consumergroup/*", `created consumer group "cg"`)
	reportLine(t, out, "ok", "GetCheckPoint (log:GetConsumerGroupCheckPoint)", ls+"/consumergroup/cg")
	reportLine(t, out, "skipped", "UpdateCheckPoint (log:ConsumerGroupUpdateCheckPoint)", "not probed")
	reportLine(t, out, "ok", "connect", e.nats.URL())
	reportLine(t, out, "ok", "JetStream stream", "LOGS", "logs.>")
	reportLine(t, out, "skipped", "publish", "logs.nginx", "--write-test")
	reportLine(t, out, "ok", "ListShards (log:ListShards)", "acs:log:*:*:project/demo/logstore/out")
	reportLine(t, out, "skipped", "PostLogStoreLogs (log:PostLogStoreLogs)", "--write-test")
	if strings.Contains(out, "HeartBeat") {
		t.Error("a standalone pipeline's check mentions heartbeats, which it never sends")
	}

	// The group now exists, as run would have made it; a second check finds it.
	groups, err := e.client().ListConsumerGroup("demo", "nginx")
	if err != nil || len(groups) != 1 || groups[0].ConsumerGroupName != "cg" {
		t.Fatalf("consumer groups after check = %v, %v", groups, err)
	}
	out, err = runCheckCmd(t, e.pipeline(t, "full", "full-secret-value", "nginx"))
	if err != nil {
		t.Fatalf("second check: %v", err)
	}
	reportLine(t, out, "ok", "CreateConsumerGroup", `consumer group "cg" exists`)
}

func TestCheckDeniedListShards(t *testing.T) {
	e := startCheckEnv(t)
	e.createStream(t, "LOGS", "logs.>")
	out, err := runCheckCmd(t, e.pipeline(t, "narrow", narrowSecret, "nginx"))
	if err == nil {
		t.Fatal("check passed although log:ListShards is denied")
	}
	const ls = "acs:log:*:*:project/demo/logstore/nginx"
	reportLine(t, out, "MISSING", "ListShards (log:ListShards)", ls, "denied")
	want := `add to the policy: {"Effect": "Allow", "Action": ["log:ListShards"], "Resource": "` + ls + `"}`
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q", want)
	}
	// The other calls are still probed, and pass.
	reportLine(t, out, "ok", "GetCursor (log:GetCursorOrData)", ls)
	reportLine(t, out, "MISSING", "ListShards (log:ListShards)", "acs:log:*:*:project/demo/logstore/out")
	// One policy document grants both logstores.
	doc := out[strings.Index(out, "RAM policy granting everything missing"):]
	for _, s := range []string{`"Version": "1"`, `"log:ListShards"`, ls, "acs:log:*:*:project/demo/logstore/out"} {
		if !strings.Contains(doc, s) {
			t.Errorf("policy document lacks %s", s)
		}
	}
	if strings.Contains(out, narrowSecret) {
		t.Error("the access key secret was printed")
	}
}

func TestCheckUnknownLogstore(t *testing.T) {
	e := startCheckEnv(t)
	e.createStream(t, "LOGS", "logs.>")
	out, err := runCheckCmd(t, e.pipeline(t, "full", "full-secret-value", "nope"))
	if err == nil {
		t.Fatal("check passed for a logstore that does not exist")
	}
	reportLine(t, out, "MISSING", "ListShards", "logstore/nope", "LogStoreNotExist")
	reportLine(t, out, "skipped", "GetCursor", "logstore/nope", "logstore does not exist")
	if strings.Contains(out, "RAM policy granting") {
		t.Error("a missing logstore produced a policy: no permission is missing")
	}
}

func TestCheckWrongSecret(t *testing.T) {
	e := startCheckEnv(t)
	e.createStream(t, "LOGS", "logs.>")
	const wrong = "not-the-secret-123"
	out, err := runCheckCmd(t, e.pipeline(t, "full", wrong, "nginx"))
	if err == nil {
		t.Fatal("check passed with a wrong secret")
	}
	reportLine(t, out, "FAILED", "ListShards", "SignatureNotMatch")
	reportLine(t, out, "skipped", "GetCursor", "credentials rejected")
	if strings.Contains(out, wrong) || strings.Contains(out, "full-secret-value") {
		t.Error("a secret was printed")
	}

	out, err = runCheckCmd(t, e.pipeline(t, "nobody", "whatever-secret", "nginx"))
	if err == nil {
		t.Fatal("check passed with an unknown access key id")
	}
	reportLine(t, out, "FAILED", "ListShards", "InvalidAccessKeyId")
	if strings.Contains(out, "nobody") {
		t.Error("the access key id was printed")
	}
}

func TestCheckMissingStream(t *testing.T) {
	e := startCheckEnv(t)
	out, err := runCheckCmd(t, e.pipeline(t, "full", "full-secret-value", "nginx"))
	if err == nil {
		t.Fatal("check passed without the JetStream stream")
	}
	reportLine(t, out, "MISSING", "JetStream stream", "LOGS", "does not exist")
	if !strings.Contains(out, "create_stream: true") {
		t.Error("the report does not say how to get the stream")
	}
	reportLine(t, out, "ok", "ListShards (log:ListShards)", "logstore/nginx")
}

func TestCheckWriteTest(t *testing.T) {
	e := startCheckEnv(t)
	stream := e.createStream(t, "LOGS", "logs.>")
	c := e.client()
	before := map[int]string{}
	for shard := range 2 {
		cur, err := c.GetCursor("demo", "out", shard, "end")
		if err != nil {
			t.Fatal(err)
		}
		before[shard] = cur
	}

	out, err := runCheckCmd(t, "--write-test", e.pipeline(t, "full", "full-secret-value", "nginx"))
	if err != nil {
		t.Fatalf("check --write-test: %v", err)
	}
	reportLine(t, out, "ok", "PostLogStoreLogs (log:PostLogStoreLogs)", "logstore/out", "wrote 1 log")
	reportLine(t, out, "ok", "publish", "logs.nginx", `stream "LOGS"`)

	// Exactly one log, with the check topic, went into the SLS logstore.
	var logs []*sls.Log
	for shard, cur := range before {
		gl, _, err := c.PullLogs("demo", "out", shard, cur, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gl.LogGroups {
			if g.GetTopic() != "slspipe-check" {
				t.Errorf("written log group has topic %q", g.GetTopic())
			}
			logs = append(logs, g.Logs...)
		}
	}
	if len(logs) != 1 {
		t.Fatalf("the write test wrote %d logs, want 1", len(logs))
	}
	fields := map[string]string{}
	for _, kv := range logs[0].Contents {
		fields[kv.GetKey()] = kv.GetValue()
	}
	if fields["slspipe_check"] != "write test" || fields["host"] == "" {
		t.Errorf("written log = %v", fields)
	}

	// And exactly one message into the stream.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after the write test, want 1", info.State.Msgs)
	}
	msg, err := stream.GetMsg(ctx, info.State.FirstSeq)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "logs.nginx" || msg.Header.Get("Slspipe-Check") == "" {
		t.Errorf("published message: subject %q, headers %v", msg.Subject, msg.Header)
	}
}
