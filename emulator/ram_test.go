package emulator_test

import (
	"errors"
	"strings"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator"
)

// wantDenied checks that err is the service's RAM denial of action on
// resource, as the SDK reports it.
func wantDenied(t *testing.T, err error, action, resource string) {
	t.Helper()
	var se *sls.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *sls.Error", err, err)
	}
	want := "denied by sts or ram, action: " + action + ", resource: " + resource
	if se.HTTPCode != 401 || se.Code != "Unauthorized" || se.Message != want || se.RequestID == "" {
		t.Fatalf("denial = %d %s %q (request %q), want 401 Unauthorized %q", se.HTTPCode, se.Code, se.Message, se.RequestID, want)
	}
}

// TestDeniedActionsAnswerLikeRAM restricts one access key and checks, with
// the official SDK, that exactly its denied calls are refused the way the
// service refuses them, while another key keeps every right.
func TestDeniedActionsAnswerLikeRAM(t *testing.T) {
	srv := startEmulator(t, emulator.Config{
		AccessKeys: map[string]string{"full": "full-secret", "narrow": "narrow-secret"},
		Logstores:  []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 2}},
		Denied: map[string][]string{"narrow": {
			"log:ListShards", "log:PostLogStoreLogs", "log:ConsumerGroupHeartBeat", "log:getconsumergroup*",
		}},
	})
	const logstoreARN = "acs:log:local:emulator:project/demo/logstore/nginx"
	for _, sig := range []signing{signV1, signV4} {
		t.Run(sig.String(), func(t *testing.T) {
			narrow := newClient(srv, sig, "narrow", "narrow-secret")
			full := newClient(srv, sig, "full", "full-secret")

			_, err := narrow.ListShards("demo", "nginx")
			wantDenied(t, err, "log:ListShards", logstoreARN)
			// RAM is consulted before the resource is looked up.
			_, err = narrow.ListShards("demo", "missing")
			wantDenied(t, err, "log:ListShards", "acs:log:local:emulator:project/demo/logstore/missing")
			err = narrow.PutLogs("demo", "nginx", makeGroup("denied", 1))
			wantDenied(t, err, "log:PostLogStoreLogs", logstoreARN)
			key := "00000000000000000000000000000000"
			err = narrow.PostLogStoreLogs("demo", "nginx", makeGroup("denied", 1), &key)
			wantDenied(t, err, "log:PostLogStoreLogs", logstoreARN)

			// Allowed calls still work for the narrow key.
			cur, err := narrow.GetCursor("demo", "nginx", 0, "end")
			if err != nil {
				t.Fatalf("GetCursor with the narrow key: %v", err)
			}
			if _, _, err := narrow.PullLogs("demo", "nginx", 0, cur, "", 1); err != nil {
				t.Fatalf("PullLogs with the narrow key: %v", err)
			}
			cg := sls.ConsumerGroup{ConsumerGroupName: "g-" + sig.String(), Timeout: 60, InOrder: true}
			if err := narrow.CreateConsumerGroup("demo", "nginx", cg); err != nil {
				t.Fatalf("CreateConsumerGroup with the narrow key: %v", err)
			}
			groupARN := logstoreARN + "/consumergroup/" + cg.ConsumerGroupName
			_, err = narrow.HeartBeat("demo", "nginx", cg.ConsumerGroupName, "c1", []int{})
			wantDenied(t, err, "log:ConsumerGroupHeartBeat", groupARN)
			_, err = narrow.GetCheckpoint("demo", "nginx", cg.ConsumerGroupName)
			wantDenied(t, err, "log:GetConsumerGroupCheckPoint", groupARN)

			// The other key is not restricted.
			if _, err := full.ListShards("demo", "nginx"); err != nil {
				t.Fatalf("ListShards with the full key: %v", err)
			}
			if err := full.PutLogs("demo", "nginx", makeGroup("allowed", 1)); err != nil {
				t.Fatalf("PutLogs with the full key: %v", err)
			}
			if _, err := full.GetCheckpoint("demo", "nginx", cg.ConsumerGroupName); err != nil {
				t.Fatalf("GetCheckpoint with the full key: %v", err)
			}
		})
	}
}

func TestParseDenySpec(t *testing.T) {
	id, actions, err := emulator.ParseDenySpec("ak1=log:ListShards, log:PostLogStoreLogs")
	if err != nil || id != "ak1" || strings.Join(actions, "|") != "log:ListShards|log:PostLogStoreLogs" {
		t.Fatalf("ParseDenySpec = %q %q %v", id, actions, err)
	}
	for _, bad := range []string{"ak1", "=log:ListShards", "ak1="} {
		if _, _, err := emulator.ParseDenySpec(bad); err == nil {
			t.Errorf("ParseDenySpec(%q) accepted", bad)
		}
	}
	if _, err := emulator.New(emulator.Config{Denied: map[string][]string{"ak": {"ListShards"}}}); err == nil {
		t.Error("an action without the log: prefix was accepted")
	}
}
