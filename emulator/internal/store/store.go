// Package store is the SLS emulator's data model: projects, logstores,
// shards with hash ranges and split/merge lineage, and each shard's log
// groups addressed by consecutive sequence numbers. It optionally persists
// everything under a directory.
//
// Errors a client should see are *apierr.Error; anything else is an
// internal failure.
package store

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// MaxShardsPerLogstore bounds CreateLogstore and split results.
const MaxShardsPerLogstore = 512

// Options configure a Store.
type Options struct {
	// Dir is where data persists; "" keeps everything in memory.
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Extra returns state persisted alongside the metadata (the consumer
	// groups). It is called with the store's lock held, so it must not
	// call back into the Store.
	Extra func() (json.RawMessage, error)
}

// Store holds all projects. It is safe for concurrent use.
type Store struct {
	opts Options

	lock *os.File // holds the data dir's lock; nil in memory

	mu       sync.RWMutex // guards projects and every logstore's shard list
	projects map[string]*project
	closed   bool
}

type project struct {
	Name        string
	Description string
	CreateTime  int64
	logstores   map[string]*logstore
}

// LogstoreConfig is a logstore's user-visible settings.
type LogstoreConfig struct {
	Name          string `json:"logstoreName"`
	TTL           int    `json:"ttl"`
	ShardCount    int    `json:"shardCount"`
	AutoSplit     bool   `json:"autoSplit"`
	MaxSplitShard int    `json:"maxSplitShard"`
	WebTracking   bool   `json:"enable_tracking"`
	AppendMeta    bool   `json:"appendMeta"`
	TelemetryType string `json:"telemetryType"`
	Mode          string `json:"mode,omitempty"`
	CreateTime    int64  `json:"createTime"`
	LastModify    int64  `json:"lastModifyTime"`
}

type logstore struct {
	project string
	cfg     LogstoreConfig
	shards  []*shard // ordered by ID
	lb      atomic.Uint64
}

// ShardInfo describes one shard.
type ShardInfo struct {
	ID         int
	ReadOnly   bool
	BeginKey   string // inclusive, 32 hex
	EndKey     string // exclusive, 32 hex
	CreateTime int64  // unix seconds
	Parents    []int  // shards this one was split or merged from
	Begin, End int64  // sequence numbers: first group, next to be written
}

var (
	projectName  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	logstoreName = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62}$`)
)

// Open creates a Store, loading persisted state from opts.Dir if present.
// It returns the Extra state that was saved with it (nil if none).
func Open(opts Options) (*Store, json.RawMessage, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{opts: opts, projects: map[string]*project{}}
	if opts.Dir == "" {
		return s, nil, nil
	}
	err := os.MkdirAll(opts.Dir, 0o755)
	if err != nil {
		return nil, nil, fmt.Errorf("create data dir: %w", err)
	}
	if s.lock, err = lockDir(opts.Dir); err != nil {
		return nil, nil, err
	}
	extra, err := s.load()
	if err != nil {
		s.closeFiles()
		s.unlock()
		return nil, nil, err
	}
	return s, extra, nil
}

// Close flushes and closes segment files and saves the metadata.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.opts.Dir != "" {
		err = s.saveMetaLocked()
	}
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	s.unlock()
	return err
}

func (s *Store) unlock() {
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

// SaveMeta persists the metadata and Extra state now; a no-op in memory.
func (s *Store) SaveMeta() error {
	if s.opts.Dir == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.saveMetaLocked()
}

func (s *Store) closeFiles() error {
	var first error
	for _, p := range s.projects {
		for _, ls := range p.logstores {
			for _, sh := range ls.shards {
				if err := sh.closeSegment(); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}

func errProjectNotExist(name string) *apierr.Error {
	return apierr.New(http.StatusNotFound, "ProjectNotExist", "The Project does not exist : %s", name)
}

func errLogstoreNotExist(name string) *apierr.Error {
	return apierr.New(http.StatusNotFound, "LogStoreNotExist", "logstore %s does not exist", name)
}

func errShardNotExist(id int) *apierr.Error {
	return apierr.New(http.StatusBadRequest, "ShardNotExist", "Shard %d does not exist", id)
}

// EnsureProject creates the project if it does not exist.
func (s *Store) EnsureProject(name string) error {
	if !projectName.MatchString(name) {
		return apierr.New(http.StatusBadRequest, "ProjectNameInvalid", "invalid project name: %s", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[name]; ok {
		return nil
	}
	s.projects[name] = &project{Name: name, CreateTime: s.opts.Now().Unix(), logstores: map[string]*logstore{}}
	return s.persistLocked()
}

// CreateProject creates a project; it fails with ProjectAlreadyExist.
func (s *Store) CreateProject(name, description string) error {
	if !projectName.MatchString(name) {
		return apierr.New(http.StatusBadRequest, "ProjectNameInvalid", "invalid project name: %s", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[name]; ok {
		return apierr.New(http.StatusBadRequest, "ProjectAlreadyExist", "Project %s already exist", name)
	}
	s.projects[name] = &project{Name: name, Description: description, CreateTime: s.opts.Now().Unix(), logstores: map[string]*logstore{}}
	return s.persistLocked()
}

// ProjectInfo is what GetProject answers.
type ProjectInfo struct {
	Name        string `json:"projectName"`
	Description string `json:"description"`
	Status      string `json:"status"`
	CreateTime  string `json:"createTime"`
	LastModify  string `json:"lastModifyTime"`
	Region      string `json:"region"`
}

// Project returns a project's description.
func (s *Store) Project(name string) (ProjectInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[name]
	if !ok {
		return ProjectInfo{}, errProjectNotExist(name)
	}
	ts := time.Unix(p.CreateTime, 0).UTC().Format("2006-01-02 15:04:05")
	return ProjectInfo{Name: p.Name, Description: p.Description, Status: "Normal", CreateTime: ts, LastModify: ts, Region: "local"}, nil
}

// CreateLogstore creates a logstore with cfg.ShardCount shards splitting
// the hash space evenly. The project must exist.
func (s *Store) CreateLogstore(projectName string, cfg LogstoreConfig) error {
	if !logstoreName.MatchString(cfg.Name) {
		return apierr.New(http.StatusBadRequest, "LogStoreInvalid", "invalid logstore name: %s", cfg.Name)
	}
	if cfg.ShardCount < 1 || cfg.ShardCount > MaxShardsPerLogstore {
		return apierr.New(http.StatusBadRequest, "ParameterInvalid", "shardCount must be in [1, %d]", MaxShardsPerLogstore)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 30
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[projectName]
	if !ok {
		return errProjectNotExist(projectName)
	}
	if _, ok := p.logstores[cfg.Name]; ok {
		return apierr.New(http.StatusBadRequest, "LogStoreAlreadyExist", "logstore %s already exists", cfg.Name)
	}
	now := s.opts.Now()
	cfg.CreateTime, cfg.LastModify = now.Unix(), now.Unix()
	ranges, err := evenRanges(zeroKey, MaxKey, cfg.ShardCount)
	if err != nil {
		return err
	}
	ls := &logstore{project: projectName, cfg: cfg}
	if s.opts.Dir != "" {
		// A logstore re-created under an old name starts empty.
		if err := os.RemoveAll(s.logstoreDir(projectName, cfg.Name)); err != nil {
			return fmt.Errorf("clear logstore dir: %w", err)
		}
	}
	for i, r := range ranges {
		sh := newShard(i, r[0], r[1], now, nil)
		if err := s.openSegment(ls, sh, true); err != nil {
			for _, o := range ls.shards {
				o.closeSegment()
			}
			return err
		}
		ls.shards = append(ls.shards, sh)
	}
	p.logstores[cfg.Name] = ls
	return s.persistLocked()
}

const zeroKey = "00000000000000000000000000000000"

// lookup returns the logstore; s.mu must be held.
func (s *Store) lookup(projectName, name string) (*logstore, error) {
	p, ok := s.projects[projectName]
	if !ok {
		return nil, errProjectNotExist(projectName)
	}
	ls, ok := p.logstores[name]
	if !ok {
		return nil, errLogstoreNotExist(name)
	}
	return ls, nil
}

// GetLogstore returns a logstore's settings; ShardCount counts readwrite shards.
func (s *Store) GetLogstore(projectName, name string) (LogstoreConfig, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls, err := s.lookup(projectName, name)
	if err != nil {
		return LogstoreConfig{}, err
	}
	cfg := ls.cfg
	cfg.ShardCount = 0
	for _, sh := range ls.shards {
		if !sh.isReadOnly() {
			cfg.ShardCount++
		}
	}
	return cfg, nil
}

// ListLogstores returns the project's logstore names, sorted.
func (s *Store) ListLogstores(projectName string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[projectName]
	if !ok {
		return nil, errProjectNotExist(projectName)
	}
	names := make([]string, 0, len(p.logstores))
	for n := range p.logstores {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// UpdateLogstore changes a logstore's settings. The shard layout only
// changes through split and merge, so ShardCount is ignored.
func (s *Store) UpdateLogstore(projectName string, cfg LogstoreConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, err := s.lookup(projectName, cfg.Name)
	if err != nil {
		return err
	}
	if cfg.TTL > 0 {
		ls.cfg.TTL = cfg.TTL
	}
	ls.cfg.AutoSplit, ls.cfg.MaxSplitShard = cfg.AutoSplit, cfg.MaxSplitShard
	ls.cfg.WebTracking, ls.cfg.AppendMeta = cfg.WebTracking, cfg.AppendMeta
	ls.cfg.LastModify = s.opts.Now().Unix()
	return s.persistLocked()
}

// DeleteLogstore removes a logstore and its data.
func (s *Store) DeleteLogstore(projectName, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, err := s.lookup(projectName, name)
	if err != nil {
		return err
	}
	for _, sh := range ls.shards {
		sh.closeSegment()
	}
	delete(s.projects[projectName].logstores, name)
	if s.opts.Dir != "" {
		if err := os.RemoveAll(s.logstoreDir(projectName, name)); err != nil {
			return fmt.Errorf("remove logstore dir: %w", err)
		}
	}
	return s.persistLocked()
}

// Shards lists a logstore's shards ordered by ID.
func (s *Store) Shards(projectName, name string) ([]ShardInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls, err := s.lookup(projectName, name)
	if err != nil {
		return nil, err
	}
	out := make([]ShardInfo, len(ls.shards))
	for i, sh := range ls.shards {
		out[i] = sh.info()
	}
	return out, nil
}

func (s *Store) logstoreDir(projectName, name string) string {
	return filepath.Join(s.opts.Dir, "segments", projectName, name)
}

// persistLocked saves metadata after a structural change; s.mu must be held.
func (s *Store) persistLocked() error {
	if s.opts.Dir == "" {
		return nil
	}
	return s.saveMetaLocked()
}

// shardByID finds a shard; s.mu must be held.
func (ls *logstore) shardByID(id int) *shard {
	i := sort.Search(len(ls.shards), func(i int) bool { return ls.shards[i].id >= id })
	if i < len(ls.shards) && ls.shards[i].id == id {
		return ls.shards[i]
	}
	return nil
}

func (ls *logstore) nextID() int {
	return ls.shards[len(ls.shards)-1].id + 1
}
