package groups

import (
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// groupNamePattern is the service's naming rule for consumer groups: 2 to 128
// characters of lowercase letters, digits, '-' and '_', starting and ending
// with a letter or digit.
var groupNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,126}[a-z0-9]$`)

// maxTimeout is the largest heartbeat timeout, in seconds, the service accepts.
const maxTimeout = 86400

// group is one consumer group. Every field is guarded by Registry.mu.
type group struct {
	name    string
	timeout int  // seconds without a heartbeat after which a consumer is dead
	order   bool // parents are consumed to the end before their children

	checkpoints map[int]checkpoint
	consumers   map[string]*consumer
	// owner is the consumer each assigned shard is meant for. The owner
	// receives the shard in a heartbeat reply only once no other live
	// consumer may still hold it (see assign.go).
	owner map[int]string
}

// checkpoint is the committed position of one shard.
type checkpoint struct {
	value    string
	updated  time.Time
	consumer string
}

// consumer is one member of a group, known from its heartbeats.
type consumer struct {
	name     string
	lastBeat time.Time
	// held is the set of shards the consumer said it holds in its last
	// heartbeat: the library keeps listing a shard until its shard worker
	// has shut down and flushed its checkpoint.
	held map[int]bool
	// granted is the set of shards named in the consumer's last reply.
	granted map[int]bool
}

func newGroup(name string, timeout int, order bool) *group {
	return &group{
		name:        name,
		timeout:     timeout,
		order:       order,
		checkpoints: make(map[int]checkpoint),
		consumers:   make(map[string]*consumer),
		owner:       make(map[int]string),
	}
}

// groupJSON is one element of the ListConsumerGroup reply; note the key is
// "name" there, while CreateConsumerGroup sends "consumerGroup".
type groupJSON struct {
	Name    string `json:"name"`
	Timeout int    `json:"timeout"`
	Order   bool   `json:"order"`
}

func (r *Registry) list(project, logstore string) []groupJSON {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []groupJSON{}
	for k, g := range r.groups {
		if k.project == project && k.logstore == logstore {
			out = append(out, groupJSON{Name: g.name, Timeout: g.timeout, Order: g.order})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) create(project, logstore, name string, timeout int, order bool) error {
	if !groupNamePattern.MatchString(name) {
		return apierr.New(http.StatusBadRequest, "ParameterInvalid", "invalid consumer group name %q", name)
	}
	if err := checkTimeout(timeout); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := groupKey{project, logstore, name}
	if _, ok := r.groups[k]; ok {
		// The consumer library matches the code only; 400 is what the
		// service answers for an existing resource.
		return apierr.New(http.StatusBadRequest, "ConsumerGroupAlreadyExist", "consumer group %s already exists", name)
	}
	r.groups[k] = newGroup(name, timeout, order)
	return nil
}

func (r *Registry) update(k groupKey, timeout *int, order *bool) error {
	if timeout != nil {
		if err := checkTimeout(*timeout); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(k)
	if err != nil {
		return err
	}
	if timeout != nil {
		g.timeout = *timeout
	}
	if order != nil {
		// A change of order takes effect at the next rebalance, which
		// revokes children whose parents are not finished.
		g.order = *order
	}
	return nil
}

func (r *Registry) delete(k groupKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.lookup(k); err != nil {
		return err
	}
	delete(r.groups, k)
	return nil
}

// lookup returns the group k or the service's 404. r.mu must be held.
func (r *Registry) lookup(k groupKey) (*group, error) {
	g := r.groups[k]
	if g == nil {
		return nil, apierr.New(http.StatusNotFound, "ConsumerGroupNotExist", "consumer group %s does not exist", k.name)
	}
	return g, nil
}

func checkTimeout(timeout int) error {
	if timeout <= 0 || timeout > maxTimeout {
		return apierr.New(http.StatusBadRequest, "ParameterInvalid", "timeout must be in [1, %d] seconds, got %d", maxTimeout, timeout)
	}
	return nil
}
