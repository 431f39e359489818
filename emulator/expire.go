package emulator

import "time"

// ExpireBefore expires the data of one shard received before t, as the
// service does once data is older than the logstore's TTL: cursors into it
// answer 400 InvalidCursor and the begin cursor moves past it. It returns
// the number of log groups expired. Tests use it to make a stored cursor
// invalid; expiry is not persisted to DataDir.
func (s *Server) ExpireBefore(project, logstore string, shard int, t time.Time) (int, error) {
	return s.store.ExpireBefore(project, logstore, shard, t)
}
