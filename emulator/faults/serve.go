package faults

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Wait sleeps for d.Delay, returning early with ctx's error if ctx ends
// first (the client went away).
func (d Decision) Wait(ctx context.Context) error {
	if d.Delay <= 0 {
		return nil
	}
	t := time.NewTimer(d.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DropConnection closes the client's connection without writing any
// response, as a failing load balancer would: the client sees the
// connection reset or EOF. Nothing may have been written to w before.
func DropConnection(w http.ResponseWriter) error {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fmt.Errorf("drop connection: %w", err)
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("drop connection: %w", err)
	}
	return nil
}
