package store

import "time"

// ExpireBefore makes the groups of shard id received before t unreadable,
// as the service does with data past the logstore's TTL: cursors into them
// answer InvalidCursor and the shard's begin cursor moves past them. It
// returns how many groups expired. Expiry is not persisted.
func (s *Store) ExpireBefore(projectName, name string, id int, t time.Time) (int, error) {
	sh, err := s.shardOf(projectName, name, id)
	if err != nil {
		return 0, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ns := t.UnixNano()
	n := sh.expired
	for n < len(sh.groups) && sh.groups[n].recv < ns {
		n++
	}
	done := n - sh.expired
	sh.expired = n
	return done, nil
}
