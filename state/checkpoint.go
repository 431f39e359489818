package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Checkpoint is the committed position of one shard: the cursor to resume
// reading from.
type Checkpoint struct {
	// Pipeline is the pipeline name from the configuration.
	Pipeline string
	// Logstore is the source logstore the shard belongs to.
	Logstore string
	// Shard is the SLS shard id.
	Shard int
	// Cursor is the cursor to read from next.
	Cursor string
	// CursorTime is the server receive time the cursor points at, when
	// known; informational (lag reporting).
	CursorTime time.Time
	// Origin is what Cursor is a position in (the SLS endpoint, project and
	// logstore; the JetStream stream's identity), as the engine binds it
	// ([engine.Checkpoint.Origin]); empty in a checkpoint saved before
	// positions were bound.
	Origin string
	// UpdatedAt is when the checkpoint was saved; Save sets it.
	UpdatedAt time.Time
}

// File layout (schema version 1):
//
//	meta/schema_version            -> decimal version
//	checkpoints/<pipeline>/<key>   -> JSON record
//
// where key is the logstore name, a zero byte, and the shard as a 4-byte big
// endian number, so a pipeline's checkpoints sort by logstore, then shard.
//
// The record's "origin" came later without a new schema version: a record
// without it reads as an unbound checkpoint, and an older slspipe reads a
// record with it, ignoring the field, so a rollback keeps working.
var (
	bucketMeta        = []byte("meta")
	bucketCheckpoints = []byte("checkpoints")
	keySchemaVersion  = []byte("schema_version")
)

type record struct {
	Cursor     string    `json:"cursor"`
	CursorTime time.Time `json:"cursor_time,omitzero"`
	Origin     string    `json:"origin,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("create meta bucket: %w", err)
	}
	if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	if _, err := tx.CreateBucketIfNotExists(bucketCheckpoints); err != nil {
		return fmt.Errorf("create checkpoints bucket: %w", err)
	}
	return nil
}

func readVersion(meta *bolt.Bucket) (int, error) {
	raw := meta.Get(keySchemaVersion)
	if raw == nil {
		return 0, fmt.Errorf("%w: schema version missing", errShape)
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: schema version %q is not a positive number", errShape, raw)
	}
	return v, nil
}

// walk decodes every stored record so damage surfaces at Open.
func walk(tx *bolt.Tx) error {
	root := tx.Bucket(bucketCheckpoints)
	if root == nil {
		return fmt.Errorf("%w: checkpoints bucket missing", errShape)
	}
	return root.ForEach(func(pipeline, v []byte) error {
		b := root.Bucket(pipeline)
		if b == nil {
			return fmt.Errorf("%w: unexpected value %q in checkpoints", errShape, pipeline)
		}
		return b.ForEach(func(k, v []byte) error {
			_, err := decode(string(pipeline), k, v)
			return err
		})
	})
}

func encodeKey(logstore string, shard int) []byte {
	k := make([]byte, len(logstore)+5)
	copy(k, logstore)
	binary.BigEndian.PutUint32(k[len(logstore)+1:], uint32(shard))
	return k
}

func decode(pipeline string, k, v []byte) (Checkpoint, error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k)-i != 5 {
		return Checkpoint{}, fmt.Errorf("%w: malformed key %q in pipeline %q", errShape, k, pipeline)
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint %q of pipeline %q: %v", errShape, k, pipeline, err)
	}
	return Checkpoint{
		Pipeline:   pipeline,
		Logstore:   string(k[:i]),
		Shard:      int(binary.BigEndian.Uint32(k[i+1:])),
		Cursor:     r.Cursor,
		CursorTime: r.CursorTime,
		Origin:     r.Origin,
		UpdatedAt:  r.UpdatedAt,
	}, nil
}

func validate(cp Checkpoint) error {
	switch {
	case cp.Pipeline == "":
		return errors.New("pipeline name is empty")
	case cp.Logstore == "":
		return errors.New("logstore name is empty")
	case bytes.IndexByte([]byte(cp.Logstore), 0) >= 0:
		return errors.New("logstore name contains a zero byte")
	case cp.Shard < 0 || int64(cp.Shard) > int64(^uint32(0)):
		return fmt.Errorf("shard %d out of range", cp.Shard)
	case cp.Cursor == "":
		return errors.New("cursor is empty")
	}
	return nil
}

// Save stores cps in one transaction, replacing earlier checkpoints of the
// same (pipeline, logstore, shard), and returns once the transaction is on
// disk. Either every checkpoint is stored or, on error, none is. UpdatedAt
// is set to the time of the save. Saving nothing is a no-op.
func (s *Store) Save(cps []Checkpoint) error {
	if len(cps) == 0 {
		return nil
	}
	for _, cp := range cps {
		if err := validate(cp); err != nil {
			return fmt.Errorf("save checkpoint %s/%s/%d: %w", cp.Pipeline, cp.Logstore, cp.Shard, err)
		}
	}
	now := time.Now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketCheckpoints)
		for _, cp := range cps {
			b, err := root.CreateBucketIfNotExists([]byte(cp.Pipeline))
			if err != nil {
				return fmt.Errorf("pipeline %q: %w", cp.Pipeline, err)
			}
			v, err := json.Marshal(record{Cursor: cp.Cursor, CursorTime: cp.CursorTime.UTC(), Origin: cp.Origin, UpdatedAt: now})
			if err != nil {
				return err
			}
			if err := b.Put(encodeKey(cp.Logstore, cp.Shard), v); err != nil {
				return fmt.Errorf("checkpoint %s/%s/%d: %w", cp.Pipeline, cp.Logstore, cp.Shard, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save checkpoints to %s: %w", s.path, err)
	}
	return nil
}

// Load returns every checkpoint of pipeline, sorted by logstore and shard;
// none (and no error) for a pipeline that has never saved.
func (s *Store) Load(pipeline string) ([]Checkpoint, error) {
	var out []Checkpoint
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints).Bucket([]byte(pipeline))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			cp, err := decode(pipeline, k, v)
			if err != nil {
				return err
			}
			out = append(out, cp)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load checkpoints of %q from %s: %w", pipeline, s.path, err)
	}
	// Keys already sort this way unless logstore names share a prefix
	// ("a" vs "a-b"); sort explicitly so callers can rely on the order.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Logstore != out[j].Logstore {
			return out[i].Logstore < out[j].Logstore
		}
		return out[i].Shard < out[j].Shard
	})
	return out, nil
}

// Get returns the checkpoint of one shard and whether there is one.
func (s *Store) Get(pipeline, logstore string, shard int) (Checkpoint, bool, error) {
	var (
		cp    Checkpoint
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints).Bucket([]byte(pipeline))
		if b == nil || shard < 0 {
			return nil
		}
		k := encodeKey(logstore, shard)
		v := b.Get(k)
		if v == nil {
			return nil
		}
		var err error
		cp, err = decode(pipeline, k, v)
		found = err == nil
		return err
	})
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("get checkpoint %s/%s/%d from %s: %w", pipeline, logstore, shard, s.path, err)
	}
	return cp, found, nil
}

// Delete removes the checkpoint of one shard, for example a read-only shard
// that has been read to its end after a split or merge. Deleting a
// checkpoint that does not exist is not an error.
func (s *Store) Delete(pipeline, logstore string, shard int) error {
	if shard < 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints).Bucket([]byte(pipeline))
		if b == nil {
			return nil
		}
		return b.Delete(encodeKey(logstore, shard))
	})
	if err != nil {
		return fmt.Errorf("delete checkpoint %s/%s/%d from %s: %w", pipeline, logstore, shard, s.path, err)
	}
	return nil
}
