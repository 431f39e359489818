package sls

import "time"

// SetHeadRefreshEvery changes how often heads are read for the status,
// for tests; it returns a function that restores the old value.
func SetHeadRefreshEvery(d time.Duration) (restore func()) {
	old := headRefreshEvery
	headRefreshEvery = d
	return func() { headRefreshEvery = old }
}
