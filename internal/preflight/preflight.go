// Package preflight is the vocabulary of `slspipe check`: the outcome of
// each probe of a permission or resource a pipeline needs, the RAM policy
// statement that would grant a missing SLS permission, and the report that
// lists them and merges the missing grants into one policy document.
//
// The probes themselves live with the connectors that know the calls
// (connectors/sls, connectors/nats); this package only describes and
// prints their results.
package preflight

import (
	"encoding/json"
	"slices"
	"strings"
)

// Status is the outcome of one check.
type Status int

const (
	// OK: the call succeeded, or the resource exists.
	OK Status = iota
	// Missing: a permission is denied or a resource does not exist; the
	// pipeline would fail on it.
	Missing
	// Failed: the check could not tell, or failed for another reason
	// (credentials rejected, server unreachable, an unexpected answer).
	Failed
	// Skipped: not probed, because probing would change something (join a
	// consumer group, move a checkpoint, write data without --write-test)
	// or because an earlier check already failed.
	Skipped
)

// String returns "ok", "MISSING", "FAILED" or "skipped".
func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Missing:
		return "MISSING"
	case Failed:
		return "FAILED"
	case Skipped:
		return "skipped"
	}
	return "unknown"
}

// Options are what the user allows the probes to do.
type Options struct {
	// WriteTest allows probes that write: one log to an SLS sink, one
	// message to a NATS sink's subject. Without it writes are not probed.
	WriteTest bool
	// Host names this machine in what a write test writes.
	Host string
}

// Result is the outcome of one check.
type Result struct {
	Status Status
	// Check is what was called or looked up, e.g. "ListShards" or
	// "JetStream stream".
	Check string
	// Action is the RAM action the call needs, e.g. "log:ListShards";
	// empty outside SLS.
	Action string
	// Resource is what the check is about: an SLS resource name (region
	// and account as "*") or a NATS server, stream or subject.
	Resource string
	// Detail says what was found, in a few words. It never holds a
	// secret.
	Detail string
	// Grant is the RAM statement that allows Action on Resource: set when
	// the action was denied, and on actions that were not probed.
	Grant *Statement
	// Fix says what to change outside RAM (NATS permissions, a missing
	// stream, credentials), when there is something to say.
	Fix string
}

// Statement is one statement of a RAM policy.
type Statement struct {
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource string   `json:"Resource"`
}

// Allow returns the statement allowing actions on resource.
func Allow(resource string, actions ...string) *Statement {
	return &Statement{Effect: "Allow", Action: actions, Resource: resource}
}

// String returns the statement as one line of JSON, ready to paste into a
// policy's Statement list.
func (s Statement) String() string {
	q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	acts := make([]string, len(s.Action))
	for i, a := range s.Action {
		acts[i] = q(a)
	}
	return `{"Effect": ` + q(s.Effect) + `, "Action": [` + strings.Join(acts, ", ") + `], "Resource": ` + q(s.Resource) + `}`
}

// Document is a RAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// String returns the document as indented JSON.
func (d Document) String() string {
	b, _ := json.MarshalIndent(d, "", "  ")
	return string(b)
}

// Policy merges grants into one document: one statement per resource, in
// the order resources first appear, each listing its actions once, in the
// order they first appear.
func Policy(grants []Statement) Document {
	doc := Document{Version: "1"}
	index := map[string]int{}
	for _, g := range grants {
		i, ok := index[g.Resource]
		if !ok {
			i = len(doc.Statement)
			index[g.Resource] = i
			doc.Statement = append(doc.Statement, Statement{Effect: "Allow", Resource: g.Resource})
		}
		st := &doc.Statement[i]
		for _, a := range g.Action {
			if !slices.Contains(st.Action, a) {
				st.Action = append(st.Action, a)
			}
		}
	}
	return doc
}
