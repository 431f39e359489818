package engine

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestCommitWatermarkInOrder(t *testing.T) {
	w := newCommitWatermark("start", time.Time{})
	a := w.add("1", time.Unix(1, 0))
	b := w.add("2", time.Unix(2, 0))
	if c, _ := w.committed(); c != "start" {
		t.Fatalf("committed before any done = %q, want start", c)
	}
	if !w.done(a) {
		t.Fatal("done(first) did not move the watermark")
	}
	if c, ts := w.committed(); c != "1" || ts.Unix() != 1 {
		t.Fatalf("committed = %q@%v, want 1@1", c, ts.Unix())
	}
	w.done(b)
	if c, _ := w.committed(); c != "2" || w.pending() != 0 {
		t.Fatalf("committed = %q pending %d, want 2 and 0", c, w.pending())
	}
}

func TestCommitWatermarkOutOfOrderNeverSkips(t *testing.T) {
	w := newCommitWatermark("", time.Time{})
	seqs := make([]uint64, 5)
	for i := range seqs {
		seqs[i] = w.add(strconv.Itoa(i+1), time.Time{})
	}
	for _, i := range []int{4, 2, 1} {
		if w.done(seqs[i]) {
			t.Fatalf("done(%d) moved the watermark while batch 0 is pending", i)
		}
	}
	if c, _ := w.committed(); c != "" {
		t.Fatalf("committed = %q, want nothing", c)
	}
	if !w.done(seqs[0]) {
		t.Fatal("done(0) did not move the watermark")
	}
	if c, _ := w.committed(); c != "3" {
		t.Fatalf("committed = %q, want 3 (batches 0-2 done, 3 pending)", c)
	}
	w.done(seqs[3])
	if c, _ := w.committed(); c != "5" {
		t.Fatalf("committed = %q, want 5", c)
	}
}

func TestCommitWatermarkIgnoresUnknownAndRepeated(t *testing.T) {
	w := newCommitWatermark("", time.Time{})
	a := w.add("1", time.Time{})
	b := w.add("2", time.Time{})
	if w.done(b + 10) {
		t.Fatal("unknown sequence moved the watermark")
	}
	w.done(a)
	if w.done(a) {
		t.Fatal("repeated done moved the watermark")
	}
	if c, _ := w.committed(); c != "1" {
		t.Fatalf("committed = %q, want 1", c)
	}
	w.done(b)
	if c, _ := w.committed(); c != "2" {
		t.Fatalf("committed = %q, want 2", c)
	}
}

func TestCommitWatermarkDropLast(t *testing.T) {
	w := newCommitWatermark("", time.Time{})
	a := w.add("1", time.Time{})
	w.add("2", time.Time{})
	w.dropLast()
	w.done(a)
	if c, _ := w.committed(); c != "1" || w.pending() != 0 {
		t.Fatalf("committed = %q pending %d, want 1 and 0", c, w.pending())
	}
	c := w.add("2'", time.Time{})
	w.done(c)
	if cur, _ := w.committed(); cur != "2'" {
		t.Fatalf("committed = %q, want 2'", cur)
	}
}

// TestCommitWatermarkProperty drives many shards through random
// interleavings of emission and completion and checks the two promises: the
// committed cursor never passes a batch that is not done, and it reaches the
// last cursor once everything is done.
func TestCommitWatermarkProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	iterations := 300
	if testing.Short() {
		iterations = 50
	}
	for it := range iterations {
		shards := 1 + rnd.IntN(8)
		type shardModel struct {
			w       commitWatermark
			total   int
			emitted int
			seqs    []uint64
			done    []bool
		}
		model := make([]*shardModel, shards)
		for s := range model {
			model[s] = &shardModel{w: newCommitWatermark("0", time.Time{}), total: 1 + rnd.IntN(200)}
		}
		for {
			// Pick a shard with work; emit or complete a random batch.
			var open []int
			for s, m := range model {
				if m.emitted < m.total || hasPending(m.done) {
					open = append(open, s)
				}
			}
			if len(open) == 0 {
				break
			}
			m := model[open[rnd.IntN(len(open))]]
			if m.emitted < m.total && (rnd.IntN(2) == 0 || !hasPending(m.done)) {
				m.emitted++
				m.seqs = append(m.seqs, m.w.add(strconv.Itoa(m.emitted), time.Time{}))
				m.done = append(m.done, false)
			} else {
				var notDone []int
				for i, d := range m.done {
					if !d {
						notDone = append(notDone, i)
					}
				}
				i := notDone[rnd.IntN(len(notDone))]
				m.done[i] = true
				m.w.done(m.seqs[i])
			}
			// Invariant: committed == number of the longest done prefix.
			c, _ := m.w.committed()
			got, _ := strconv.Atoi(c)
			want := 0
			for want < len(m.done) && m.done[want] {
				want++
			}
			if got != want {
				t.Fatalf("seed %d iteration %d: committed cursor %d, longest done prefix %d", seed, it, got, want)
			}
		}
		for s, m := range model {
			if c, _ := m.w.committed(); c != strconv.Itoa(m.total) || m.w.pending() != 0 {
				t.Fatalf("seed %d iteration %d shard %d: final cursor %q pending %d, want %d and 0", seed, it, s, c, m.w.pending(), m.total)
			}
		}
	}
}

func hasPending(done []bool) bool {
	for _, d := range done {
		if !d {
			return true
		}
	}
	return false
}
