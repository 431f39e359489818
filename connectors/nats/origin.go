package nats

import (
	"context"
	"fmt"
	"time"

	"github.com/slspipe/slspipe/engine"
)

// streamOrigin names a stream by its name and creation time, which changes
// when the stream is deleted and created again (and survives a restore
// from backup, which keeps the sequences).
func streamOrigin(stream string, created time.Time) string {
	return "jetstream://" + stream + "?created=" + created.UTC().Format(time.RFC3339Nano)
}

// Origin implements [engine.Origins]: the source's shard is a position in
// the stream it found at start, named with its creation time.
func (s *Source) Origin(logstore string) string {
	if logstore != s.key.Logstore {
		return ""
	}
	return s.origin
}

// checkFloor refuses a stored position past the end of the stream: a
// position saved before positions were bound to their stream's identity,
// in a stream since deleted and created again. Resetting the consumer
// there would skip the new stream's messages below it, and the first
// cumulative acknowledgement would settle them unread.
func (s *Source) checkFloor(ctx context.Context, floor uint64) error {
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return fmt.Errorf("nats source: look up stream %q: %w", s.cfg.Stream, err)
	}
	info := st.CachedInfo()
	if last := info.State.LastSeq; floor > last+1 {
		return fmt.Errorf("nats source: the stored position of %s is sequence %d, but stream %q (%s) ends at sequence %d: "+
			"the position belongs to an earlier stream of that name; the pipeline does not start from it: %w",
			s.key, floor, s.cfg.Stream, s.origin, last, engine.ErrPositionMismatch)
	}
	return nil
}
