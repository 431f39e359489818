// Package preflighttest helps tests read preflight results.
package preflighttest

import (
	"testing"

	"github.com/slspipe/slspipe/internal/preflight"
)

// Result returns the result of check among results, or fails the test.
func Result(t testing.TB, results []preflight.Result, check string) preflight.Result {
	t.Helper()
	for _, r := range results {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no %q result in %+v", check, results)
	return preflight.Result{}
}
