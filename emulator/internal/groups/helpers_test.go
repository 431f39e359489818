package groups

import (
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

const (
	testProject  = "proj"
	testLogstore = "store"
	testGroup    = "cg"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cursor encodes a sequence number the way the emulator's cursors are.
func cursor(seq int64) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

// rwShards returns n readwrite shards 0..n-1 that hold some data.
func rwShards(n int) []ShardInfo {
	out := make([]ShardInfo, n)
	for i := range out {
		out[i] = ShardInfo{ID: i, BeginCursor: cursor(0), EndCursor: cursor(10)}
	}
	return out
}

// fixture is one group on a fake clock, driven through the same methods
// Handle calls.
type fixture struct {
	t      *testing.T
	clock  *fakeClock
	reg    *Registry
	shards []ShardInfo
}

func newFixture(t *testing.T, timeout int, order bool, shards []ShardInfo) *fixture {
	t.Helper()
	clock := newFakeClock()
	f := &fixture{t: t, clock: clock, reg: NewRegistry(clock.Now), shards: shards}
	if err := f.reg.create(testProject, testLogstore, testGroup, timeout, order); err != nil {
		t.Fatalf("create group: %v", err)
	}
	return f
}

func (f *fixture) key() groupKey { return groupKey{testProject, testLogstore, testGroup} }

// beat sends a heartbeat and fails the test on error.
func (f *fixture) beat(consumer string, held ...int) []int {
	f.t.Helper()
	got, err := f.reg.heartbeat(f.key(), f.shards, consumer, held)
	if err != nil {
		f.t.Fatalf("heartbeat %s %v: %v", consumer, held, err)
	}
	return got
}

func (f *fixture) commit(consumer string, force bool, shard int, cp string) error {
	return f.reg.updateCheckpoint(f.key(), f.shards, consumer, force, shard, cp)
}

// wantAPIError checks that err is the service error status/code.
func wantAPIError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want %d %s", err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", ae.Status, ae.Code, ae.Message, status, code)
	}
}

func wantShards(t *testing.T, what string, got []int, want ...int) {
	t.Helper()
	if want == nil {
		want = []int{}
	}
	if got == nil {
		got = []int{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got shards %v, want %v", what, got, want)
	}
}
