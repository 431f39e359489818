package preflight_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/internal/preflight"
)

func ExamplePolicy() {
	const ls = "acs:log:*:*:project/demo/logstore/nginx"
	doc := preflight.Policy([]preflight.Statement{
		*preflight.Allow(ls, "log:ListShards"),
		*preflight.Allow(ls+"/consumergroup/cg", "log:GetConsumerGroupCheckPoint"),
		*preflight.Allow(ls, "log:GetCursorOrData", "log:ListShards"),
	})
	for _, st := range doc.Statement {
		fmt.Println(st)
	}
	// Output:
	// {"Effect": "Allow", "Action": ["log:ListShards", "log:GetCursorOrData"], "Resource": "acs:log:*:*:project/demo/logstore/nginx"}
	// {"Effect": "Allow", "Action": ["log:GetConsumerGroupCheckPoint"], "Resource": "acs:log:*:*:project/demo/logstore/nginx/consumergroup/cg"}
}

// TestReportLeavesProbedActionsOutOfNotProbed checks that an action probed
// on a resource is not listed again as not probed there.
func TestReportLeavesProbedActionsOutOfNotProbed(t *testing.T) {
	const ls = "acs:log:*:*:project/p/logstore/l"
	var r preflight.Report
	r.Add("source", []preflight.Result{
		{Status: preflight.Missing, Check: "GetCursor", Action: "log:GetCursorOrData", Resource: ls, Grant: preflight.Allow(ls, "log:GetCursorOrData")},
		{Status: preflight.Skipped, Check: "PullLogs", Action: "log:GetCursorOrData", Resource: ls, Grant: preflight.Allow(ls, "log:GetCursorOrData")},
		{Status: preflight.Skipped, Check: "UpdateCheckPoint", Action: "log:ConsumerGroupUpdateCheckPoint", Resource: ls + "/consumergroup/g",
			Grant: preflight.Allow(ls+"/consumergroup/g", "log:ConsumerGroupUpdateCheckPoint")},
	})
	if r.OK() {
		t.Fatal("a report with a missing permission is OK")
	}
	missing, ok := r.Missing()
	if !ok || len(missing.Statement) != 1 || missing.Statement[0].Action[0] != "log:GetCursorOrData" {
		t.Fatalf("Missing = %v, %t", missing, ok)
	}
	not, ok := r.NotProbed()
	if !ok || len(not.Statement) != 1 || not.Statement[0].Action[0] != "log:ConsumerGroupUpdateCheckPoint" {
		t.Fatalf("NotProbed = %v, %t", not, ok)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  MISSING  GetCursor (log:GetCursorOrData)",
		`add to the policy: {"Effect": "Allow", "Action": ["log:GetCursorOrData"], "Resource": "` + ls + `"}`,
		"0 ok, 1 missing, 0 failed, 2 skipped",
		`"Version": "1"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
