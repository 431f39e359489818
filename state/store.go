// Package state is slspipe's local checkpoint store: the committed cursor of
// every (pipeline, logstore, shard) and what it is a position in (its
// origin), kept in one bbolt file.
//
// # Notes
//
//   - A Store holds an exclusive lock on its file for as long as it is open,
//     so two slspipe processes can never write the same state file.
//   - Save writes all the checkpoints it is given in one fsync'd
//     transaction: after a crash the file holds either all of them or none.
//   - A Store is safe for concurrent use by multiple goroutines.
package state

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout version this package writes. A state file
// written by a newer slspipe (a higher version) is refused rather than
// misread.
const SchemaVersion = 1

// DefaultLockTimeout is how long Open waits for another process to release
// the state file before giving up.
const DefaultLockTimeout = time.Second

// ErrInUse is returned (wrapped, with the path) by Open when another process,
// or another Store in this process, holds the state file.
var ErrInUse = errors.New("in use by another slspipe process")

// ErrCorrupt is returned (wrapped, with the path and the cause) by Open when
// the file is not a readable slspipe state file.
var ErrCorrupt = errors.New("not a valid slspipe state file")

// ErrNewerSchema is returned (wrapped) by Open when the file was written by a
// newer slspipe whose layout this version does not understand.
var ErrNewerSchema = errors.New("written by a newer slspipe")

// Store is an open checkpoint store. Create one with Open and release it
// with Close.
type Store struct {
	db   *bolt.DB
	path string
}

// Option changes how Open opens a store.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for the file lock held by another
// process (DefaultLockTimeout by default). It must be positive: waiting
// forever would hang a second process instead of telling its operator why.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Open opens the state file at path, creating it (and no parent directories)
// if it does not exist.
//
// # Notes
//
//   - Errors name the path. A file held by another process yields an error
//     wrapping ErrInUse after the lock timeout; a file that is not an
//     slspipe state file (random bytes, a truncated or damaged database)
//     yields one wrapping ErrCorrupt; a newer layout, ErrNewerSchema.
//   - An existing file is first checked read-only (bbolt's consistency
//     check) and every stored checkpoint is decoded once, so damage is
//     reported here as an error, not later as a crash.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}

	// A backstop behind preflight: should bbolt still fault midway through
	// Open, the file it opened is closed here.
	var file *os.File
	bopts := &bolt.Options{
		Timeout:      o.lockTimeout,
		FreelistType: bolt.FreelistMapType,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			file = f
			return f, err
		},
	}

	if err := preflight(path, o.lockTimeout); err != nil {
		return nil, err
	}

	var db *bolt.DB
	err := guard(func() error {
		var oerr error
		db, oerr = bolt.Open(path, 0o600, bopts)
		return oerr
	})
	if err != nil {
		if errors.Is(err, errFault) && file != nil {
			_ = file.Close()
		}
		return nil, openError(path, o.lockTimeout, err)
	}

	s := &Store{db: db, path: path}
	if err := s.verify(); err != nil {
		_ = guard(db.Close)
		return nil, err
	}
	return s, nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close releases the file and its lock. Stored checkpoints are already on
// disk: Close does not need to flush anything.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state file %s: %w", s.path, err)
	}
	return nil
}

// verify checks the schema version (writing it into a fresh file) and decodes
// every record once.
func (s *Store) verify() error {
	err := guard(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				// Only a file holding nothing may become a state file; a bbolt
				// file of some other program must stay untouched.
				if k, _ := tx.Cursor().First(); k != nil {
					return fmt.Errorf("%w: it is a bbolt database without a schema version (another program's file?)", errShape)
				}
				return initSchema(tx)
			}
			ver, err := readVersion(meta)
			if err != nil {
				return err
			}
			if ver > SchemaVersion {
				return fmt.Errorf("%w: schema version %d, this slspipe reads up to %d; upgrade slspipe or point checkpoint.path elsewhere", ErrNewerSchema, ver, SchemaVersion)
			}
			return walk(tx)
		})
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNewerSchema):
		return fmt.Errorf("state file %s is %w", s.path, err)
	case errors.Is(err, errShape), errors.Is(err, errFault):
		return fmt.Errorf("state file %s is %w: %v", s.path, ErrCorrupt, err)
	default:
		return fmt.Errorf("check state file %s: %w", s.path, err)
	}
}

// preflight checks an existing, non-empty file read-only before bbolt opens
// it for writing: opening for writing loads the free list, and a damaged
// free list makes bbolt panic or fault where the mapping could not be
// released. Read-only, every read goes through a handle that can be closed.
func preflight(path string, lockTimeout time.Duration) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && info.Size() == 0) {
		return nil // a new state file
	}
	if err != nil {
		return fmt.Errorf("open state file %s: %w", path, err)
	}
	var db *bolt.DB
	err = guard(func() error {
		var oerr error
		db, oerr = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
		return oerr
	})
	if err != nil {
		return openError(path, lockTimeout, err)
	}
	defer func() { _ = guard(db.Close) }()
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			// Pages past the end of the file would fault when read; the
			// consistency check below then stays within the file.
			if need := tx.Size(); need > info.Size() {
				return fmt.Errorf("%w: truncated to %d bytes, the database needs %d", errShape, info.Size(), need)
			}
			for cerr := range tx.Check() {
				if err == nil {
					err = fmt.Errorf("%w: %v", errShape, cerr)
				}
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("state file %s is %w: %v", path, ErrCorrupt, err)
	}
	return nil
}

// openError describes a failed bolt.Open of path.
func openError(path string, lockTimeout time.Duration, err error) error {
	var perr *os.PathError
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("state file %s is %w (lock not released within %s)", path, ErrInUse, lockTimeout)
	case errors.As(err, &perr):
		return fmt.Errorf("open state file %s: %w", path, err)
	default:
		return fmt.Errorf("state file %s is %w: %v", path, ErrCorrupt, err)
	}
}

// errShape marks a structural problem found while verifying a file.
var errShape = errors.New("damaged")

// errFault marks a panic or memory fault raised while reading a damaged file.
var errFault = errors.New("unreadable")

// guard runs fn and turns a panic or a memory fault (bbolt reads its file
// through mmap and trusts what it finds) into an error wrapping errFault.
func guard(fn func() error) (err error) {
	prev := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(prev)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errFault, r)
		}
	}()
	return fn()
}
