package nats

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPendingRingMatchesAMap drives the ring and a map with the same random
// adds and removals, including entries left pending long enough to make the
// ring grow, and compares every lookup and the walk order.
func TestPendingRingMatchesAMap(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		ring := newPendingRing(8)
		model := map[uint64]*inflight{}
		next := uint64(0)
		for step := 0; step < 5000; step++ {
			switch {
			case rng.IntN(3) > 0 && len(model) < 64:
				next += uint64(rng.IntN(2)) // a token whose publish failed is never added
				e := &inflight{token: next}
				next++
				ring.add(e)
				model[e.token] = e
			default:
				// Mostly the oldest, as acknowledgements come; sometimes any token.
				tok := ring.base + uint64(rng.IntN(4))
				if rng.IntN(10) == 0 {
					tok = uint64(rng.IntN(int(next) + 1))
				}
				if got, want := ring.remove(tok), model[tok]; got != want {
					t.Fatalf("seed %d step %d: remove(%d) = %v, want %v", seed, step, tok, got, want)
				}
				delete(model, tok)
			}
			if ring.n != len(model) {
				t.Fatalf("seed %d step %d: n = %d, want %d", seed, step, ring.n, len(model))
			}
			probe := uint64(rng.IntN(int(next) + 2))
			if got, want := ring.get(probe), model[probe]; got != want {
				t.Fatalf("seed %d step %d: get(%d) = %v, want %v", seed, step, probe, got, want)
			}
		}
		var walked, want []uint64
		ring.each(func(e *inflight) { walked = append(walked, e.token) })
		for tok := range model {
			want = append(want, tok)
		}
		slices.Sort(want)
		if !slices.Equal(walked, want) {
			t.Fatalf("seed %d: walk %v, want %v", seed, walked, want)
		}
	}
}

// TestPendingRingGrowsPastAStuckEntry keeps token 0 pending while thousands of
// later tokens come and go: the ring grows instead of overwriting it.
func TestPendingRingGrowsPastAStuckEntry(t *testing.T) {
	ring := newPendingRing(4)
	stuck := &inflight{token: 0}
	ring.add(stuck)
	for tok := uint64(1); tok < 5000; tok++ {
		ring.add(&inflight{token: tok})
		if ring.remove(tok) == nil {
			t.Fatalf("token %d lost", tok)
		}
	}
	if ring.get(0) != stuck || ring.n != 1 {
		t.Fatalf("stuck entry: get(0) = %v, n = %d", ring.get(0), ring.n)
	}
	if ring.remove(0) != stuck || ring.n != 0 || ring.base != ring.next {
		t.Fatalf("after removing the stuck entry: n = %d, base %d, next %d", ring.n, ring.base, ring.next)
	}
}
