// Package groups implements the consumer groups of the SLS emulator: the
// group resources (create, list, update, delete), server-side shard
// assignment driven by consumer heartbeats, and the per-shard checkpoints the
// consumers commit.
//
// The official consumer library keeps no assignment logic of its own: it
// heartbeats the shards it holds and consumes exactly the shards the reply
// names. Everything a user relies on — balance across consumers, reassigning
// the shards of a consumer that stopped heartbeating, never letting two live
// consumers own one shard, reading parents before children in ordered groups
// and retiring finished readonly shards — therefore lives here.
//
// # Notes
//
//   - The wire shapes and error codes are those the Go SDK
//     (aliyun-log-go-sdk, client_consumer.go and the consumer package) sends
//     and expects.
//   - All state is guarded by one mutex: consumer-group traffic is a few
//     requests per consumer per heartbeat interval, far below contention.
package groups

import (
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// ShardInfo describes one shard of a logstore as the assignment needs it.
type ShardInfo struct {
	ID       int
	ReadOnly bool
	// BeginCursor and EndCursor are the cursors GetCursor(begin) and
	// GetCursor(end) return for the shard right now. A readonly shard's
	// EndCursor no longer moves.
	BeginCursor, EndCursor string
	// Parents are the shards this one was split or merged from: one after a
	// split, two after a merge, none for an original shard.
	Parents []int
}

// groupKey identifies a consumer group.
type groupKey struct {
	project, logstore, name string
}

// Registry holds every consumer group of the emulator. It is safe for
// concurrent use.
type Registry struct {
	now func() time.Time

	mu     sync.Mutex
	groups map[groupKey]*group // guarded by mu, and so is every group
}

// NewRegistry returns an empty Registry that reads the time from now, so tests
// can drive heartbeat timeouts with a fake clock. A nil now means time.Now.
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now, groups: make(map[groupKey]*group)}
}

// Handle serves a request under /logstores/{logstore}/consumergroups.
// subpath is what follows "consumergroups" in the path: "" for the
// collection, "/<group>" for one group. body is the request body, already
// read. shards lists the logstore's shards at the moment of the call; it is
// called without any lock of the Registry held, and an *apierr.Error it
// returns is answered as is.
//
// On success Handle writes the 200 response itself and returns nil.
// Otherwise it writes nothing and returns an *apierr.Error for the caller to
// answer with.
func (r *Registry) Handle(w http.ResponseWriter, req *http.Request, body []byte, project, logstore, subpath string, shards func() ([]ShardInfo, error)) error {
	reply, err := r.serve(req, body, project, logstore, subpath, shards)
	if err != nil {
		return asAPIError(err)
	}
	writeJSON(w, reply)
	return nil
}

// DropLogstore forgets every consumer group of a logstore, for when the
// logstore is deleted.
func (r *Registry) DropLogstore(project, logstore string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.groups {
		if k.project == project && k.logstore == logstore {
			delete(r.groups, k)
		}
	}
}

// Assignments returns which consumer each shard of a group is currently
// handed to, that is, named in that consumer's latest heartbeat reply. A shard
// being handed over appears under neither consumer until the new one receives
// it. It returns nil for an unknown group.
func (r *Registry) Assignments(project, logstore, group string) map[int]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupKey{project, logstore, group}]
	if g == nil {
		return nil
	}
	out := make(map[int]string)
	for _, c := range g.consumers {
		for s := range c.granted {
			out[s] = c.name
		}
	}
	return out
}

// Checkpoint returns the checkpoint a group holds for a shard, and whether it
// holds one.
func (r *Registry) Checkpoint(project, logstore, group string, shard int) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupKey{project, logstore, group}]
	if g == nil {
		return "", false
	}
	cp, ok := g.checkpoints[shard]
	if !ok {
		return "", false
	}
	return cp.value, true
}

// Consumers returns the names of the consumers of a group, sorted, as of the
// group's latest heartbeat: a consumer that has since timed out is dropped at
// the next one.
func (r *Registry) Consumers(project, logstore, group string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupKey{project, logstore, group}]
	if g == nil {
		return nil
	}
	names := make([]string, 0, len(g.consumers))
	for name := range g.consumers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// asAPIError turns err into the *apierr.Error Handle returns: service errors
// pass through, anything else is an internal error.
func asAPIError(err error) error {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return apierr.New(http.StatusInternalServerError, "InternalServerError", "%v", err)
}
