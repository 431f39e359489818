package groups

import (
	"sort"
	"time"
)

// State is everything a Registry holds, in a form that encodes to JSON, so
// the emulator can persist its consumer groups across restarts.
type State struct {
	Groups []GroupState `json:"groups"`
}

// GroupState is one consumer group.
type GroupState struct {
	Project     string            `json:"project"`
	Logstore    string            `json:"logstore"`
	Name        string            `json:"name"`
	Timeout     int               `json:"timeout"`
	Order       bool              `json:"order"`
	Checkpoints []CheckpointState `json:"checkpoints,omitempty"`
	Consumers   []ConsumerState   `json:"consumers,omitempty"`
}

// CheckpointState is the committed checkpoint of one shard.
type CheckpointState struct {
	Shard      int    `json:"shard"`
	Checkpoint string `json:"checkpoint"`
	UpdateTime int64  `json:"updateTime"` // microseconds since the epoch
	Consumer   string `json:"consumer,omitempty"`
}

// ConsumerState is one consumer and its share of the shards. Consumers are
// kept so that, after a restart within the heartbeat timeout, they carry on
// with the shards they hold instead of being refused as unknown.
type ConsumerState struct {
	Name     string `json:"name"`
	LastBeat int64  `json:"lastBeat"`          // microseconds since the epoch
	Held     []int  `json:"held,omitempty"`    // shards listed in its last heartbeat
	Granted  []int  `json:"granted,omitempty"` // shards named in its last reply
	Owned    []int  `json:"owned,omitempty"`   // shards assigned to it
}

// Snapshot returns a copy of the Registry's state, sorted so that equal
// states encode identically.
func (r *Registry) Snapshot() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := State{Groups: []GroupState{}}
	for k, g := range r.groups {
		gs := GroupState{Project: k.project, Logstore: k.logstore, Name: g.name, Timeout: g.timeout, Order: g.order}
		for shard, cp := range g.checkpoints {
			gs.Checkpoints = append(gs.Checkpoints, CheckpointState{
				Shard: shard, Checkpoint: cp.value, UpdateTime: cp.updated.UnixMicro(), Consumer: cp.consumer,
			})
		}
		sort.Slice(gs.Checkpoints, func(i, j int) bool { return gs.Checkpoints[i].Shard < gs.Checkpoints[j].Shard })
		for _, c := range g.consumers {
			gs.Consumers = append(gs.Consumers, ConsumerState{
				Name:     c.name,
				LastBeat: c.lastBeat.UnixMicro(),
				Held:     sortedIDs(c.held),
				Granted:  sortedIDs(c.granted),
				Owned:    sortedInts(g.ownedBy(c.name)),
			})
		}
		sort.Slice(gs.Consumers, func(i, j int) bool { return gs.Consumers[i].Name < gs.Consumers[j].Name })
		st.Groups = append(st.Groups, gs)
	}
	sort.Slice(st.Groups, func(i, j int) bool {
		a, b := st.Groups[i], st.Groups[j]
		if a.Project != b.Project {
			return a.Project < b.Project
		}
		if a.Logstore != b.Logstore {
			return a.Logstore < b.Logstore
		}
		return a.Name < b.Name
	})
	return st
}

// Restore replaces the Registry's state with st, typically a Snapshot read
// back from disk. Consumers whose last heartbeat is older than their group's
// timeout are forgotten at the next request.
func (r *Registry) Restore(st State) {
	groups := make(map[groupKey]*group, len(st.Groups))
	for _, gs := range st.Groups {
		g := newGroup(gs.Name, gs.Timeout, gs.Order)
		for _, cp := range gs.Checkpoints {
			g.checkpoints[cp.Shard] = checkpoint{value: cp.Checkpoint, updated: time.UnixMicro(cp.UpdateTime), consumer: cp.Consumer}
		}
		for _, cs := range gs.Consumers {
			g.consumers[cs.Name] = &consumer{
				name:     cs.Name,
				lastBeat: time.UnixMicro(cs.LastBeat),
				held:     toSet(cs.Held),
				granted:  toSet(cs.Granted),
			}
			for _, s := range cs.Owned {
				g.owner[s] = cs.Name
			}
		}
		groups[groupKey{gs.Project, gs.Logstore, gs.Name}] = g
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = groups
}

func sortedIDs(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	return sortedInts(out)
}

func sortedInts(ids []int) []int {
	sort.Ints(ids)
	return ids
}
