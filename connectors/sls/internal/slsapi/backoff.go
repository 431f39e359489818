package slsapi

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is capped exponential backoff: the wait before retry n (from 0)
// is Base·2ⁿ, at most Max, with its upper half jittered so that concurrent
// callers spread out.
type Backoff struct {
	Base, Max time.Duration
}

// Delay returns the wait before retry n.
func (b Backoff) Delay(n int) time.Duration {
	d := max(b.Base, 0)
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits d or until ctx ends, returning ctx's error in that case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
