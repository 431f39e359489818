// Package ram authorizes the SLS emulator's API calls the way Resource
// Access Management (RAM) does on the service: every API is one action
// ("log:ListShards") on one resource
// ("acs:log:<region>:<account>:project/<p>/logstore/<l>"), and a call whose
// action is denied to the caller's access key is refused with 401
// Unauthorized and the message "denied by sts or ram, action: …, resource:
// …", word for word as the service answers it.
//
// The emulator models only Deny statements on every resource, keyed by
// access key: enough to reproduce a missing permission and watch a client
// report it.
package ram

import (
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// The region and account the emulator writes into resource names; the
// service writes the project's region and its owner's account id.
const (
	Region  = "local"
	Account = "emulator"
)

// Resource names, as the service's RAM documentation lists them.

// ProjectResource is the resource of project-level calls.
func ProjectResource(project string) string {
	return fmt.Sprintf("acs:log:%s:%s:project/%s", Region, Account, project)
}

// LogstoreResource is the resource of calls on one logstore (ListShards,
// GetCursorOrData, PostLogStoreLogs, GetLogStore…); logstore "*" names
// them all (ListLogStores, CreateLogStore).
func LogstoreResource(project, logstore string) string {
	return ProjectResource(project) + "/logstore/" + logstore
}

// ConsumerGroupResource is the resource of calls on one consumer group;
// group "*" names them all (CreateConsumerGroup, ListConsumerGroup).
func ConsumerGroupResource(project, logstore, group string) string {
	return LogstoreResource(project, logstore) + "/consumergroup/" + group
}

// Policy refuses actions to access keys. The zero value allows everything.
// It is immutable once built and safe for concurrent use.
type Policy struct {
	denied map[string][]string // access key id → lowercase action patterns
}

// NewPolicy returns a Policy that denies, to each access key id of denied,
// the actions listed. An action is a name such as "log:ListShards" or a
// pattern with '*' ("log:Get*", "log:*"); names are compared without
// regard to case, as RAM compares them. The map is copied.
func NewPolicy(denied map[string][]string) (*Policy, error) {
	p := &Policy{denied: make(map[string][]string, len(denied))}
	for id, actions := range denied {
		for _, a := range actions {
			a = strings.ToLower(strings.TrimSpace(a))
			if !strings.HasPrefix(a, "log:") || len(a) == len("log:") {
				return nil, fmt.Errorf("access key %s: action %q: want log:<Action>, e.g. log:ListShards", id, a)
			}
			if _, err := path.Match(a, ""); err != nil {
				return nil, fmt.Errorf("access key %s: action %q: %w", id, a, err)
			}
			p.denied[id] = append(p.denied[id], a)
		}
	}
	return p, nil
}

// Authorize returns nil when accessKeyID may perform action on resource,
// and otherwise the service's 401 Unauthorized error naming both.
func (p *Policy) Authorize(accessKeyID, action, resource string) error {
	if p == nil {
		return nil
	}
	patterns := p.denied[accessKeyID]
	if len(patterns) == 0 {
		return nil
	}
	lower := strings.ToLower(action)
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, lower); ok {
			return apierr.New(http.StatusUnauthorized, "Unauthorized",
				"denied by sts or ram, action: %s, resource: %s", action, resource)
		}
	}
	return nil
}
