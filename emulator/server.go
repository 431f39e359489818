package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/slspipe/slspipe/emulator/faults"
	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/auth"
	"github.com/slspipe/slspipe/emulator/internal/groups"
	"github.com/slspipe/slspipe/emulator/internal/ram"
	"github.com/slspipe/slspipe/emulator/internal/store"
)

// snapshotInterval is how often consumer-group state is saved to DataDir;
// checkpoints change far more often than anything else in the metadata.
const snapshotInterval = 2 * time.Second

// Server is an SLS-compatible HTTP server. Create it with New, then Start
// or Serve; Close stops it. Methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	verifier *auth.Verifier
	policy   *ram.Policy
	groups   *groups.Registry
	faults   *faults.Injector
	// adminFaults serves faults under /_emulator/faults, guarded.
	adminFaults http.Handler
	temp        *tempCreds   // temporary credentials issued by STS and the metadata service
	instance    instanceRole // the metadata service's instance role

	mu      sync.Mutex // guards the fields below
	httpSrv *http.Server
	addr    string
	tlsSrv  *http.Server // with StartTLS
	tlsAddr string
	ca      *localCA
	closed  bool

	stop chan struct{}  // closed by Close to end background work
	bg   sync.WaitGroup // background goroutines and Serve loops
}

// New creates a Server from cfg, loading cfg.DataDir if it holds earlier
// state and creating cfg.Logstores that do not exist yet. It does not
// listen; call Start or Serve.
func New(cfg Config) (*Server, error) {
	policy, err := ram.NewPolicy(cfg.Denied)
	if err != nil {
		return nil, fmt.Errorf("emulator denied actions: %w", err)
	}
	temp := newTempCreds(time.Now)
	s := &Server{
		policy:   policy,
		cfg:      cfg,
		log:      cfg.Logger,
		temp:     temp,
		verifier: auth.NewVerifier(cfg.accessKeys()).WithTemporaryKeys(temp.secret),
		groups:   groups.NewRegistry(time.Now),
		faults:   faults.New(),
		stop:     make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.adminFaults = s.faults.AdminHandler(adminTokens(cfg.accessKeys())...)
	st, extra, err := store.Open(store.Options{
		Dir:   cfg.DataDir,
		Extra: s.groupsSnapshot,
	})
	if err != nil {
		return nil, fmt.Errorf("open emulator data: %w", err)
	}
	s.store = st
	if len(extra) > 0 {
		if err := s.restoreGroups(extra); err != nil {
			st.Close()
			return nil, err
		}
	}
	for _, spec := range cfg.Logstores {
		if err := s.CreateLogstore(spec.Project, spec.Logstore, spec.Shards); err != nil {
			var ae *apierr.Error
			if errors.As(err, &ae) && ae.Code == "LogStoreAlreadyExist" {
				continue
			}
			st.Close()
			return nil, fmt.Errorf("create logstore %s: %w", spec, err)
		}
	}
	if cfg.DataDir != "" {
		s.bg.Add(1)
		go s.saveLoop()
	}
	return s, nil
}

// Start listens on addr (host:port; port 0 picks a free one) and serves in
// the background until Close. ctx bounds only the listen call.
func (s *Server) Start(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs, err := s.attach(ln)
	if err != nil {
		ln.Close()
		return err
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("emulator stopped serving", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return nil
}

// Serve serves on ln until Close, then returns nil. It returns an error if
// the Server is already serving or closed, or if accepting fails.
func (s *Server) Serve(ln net.Listener) error {
	hs, err := s.attach(ln)
	if err != nil {
		return err
	}
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func (s *Server) attach(ln net.Listener) (*http.Server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("emulator is closed")
	}
	if s.httpSrv != nil {
		return nil, errors.New("emulator is already serving")
	}
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.addr = ln.Addr().String()
	return s.httpSrv, nil
}

// Addr returns the address the Server listens on ("host:port"), or "" before
// Start or Serve.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// HTTPClient returns an http.Client that sends every request to this
// Server whatever its host, for the SDK's SetHTTPClient and the consumer's
// and producer's HTTPClient settings. Call it after Start.
func (s *Server) HTTPClient() *http.Client {
	return DialClient(s.Addr())
}

// DialClient returns an http.Client that connects to addr for every
// request, ignoring the host in the URL (the SDK's "<project>.<endpoint>"
// host does not resolve locally) and any proxy settings.
func DialClient(addr string) *http.Client {
	var d net.Dialer
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     55 * time.Second,
		},
		Timeout: 60 * time.Second,
	}
}

// Close stops serving, waiting up to 10 s for requests in flight, and saves
// and closes the data. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	hs, ts := s.httpSrv, s.tlsSrv
	s.mu.Unlock()

	var err error
	if ts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if ts.Shutdown(ctx) != nil {
			ts.Close()
		}
		cancel()
	}
	if hs != nil {
		// net/http counts a connection that has not sent a request yet as
		// active for 5 s; requests here are short, so a brief grace period
		// followed by a hard close keeps Close prompt.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		serr := hs.Shutdown(ctx)
		cancel()
		if serr != nil {
			hs.Close()
			if !errors.Is(serr, context.DeadlineExceeded) {
				err = fmt.Errorf("shut down http: %w", serr)
			}
		}
	}
	close(s.stop)
	s.bg.Wait()
	if cerr := s.store.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close data: %w", cerr)
	}
	return err
}

// CreateLogstore creates project/logstore with shards shards splitting the
// hash space evenly, creating the project if needed.
func (s *Server) CreateLogstore(project, logstore string, shards int) error {
	if err := s.store.EnsureProject(project); err != nil {
		return err
	}
	return s.store.CreateLogstore(project, store.LogstoreConfig{Name: logstore, ShardCount: shards, TTL: 30})
}

// SplitShard splits a readwrite shard at the 32-hex-digit hash key, as the
// SDK's SplitShard does. The parent turns readonly and stays readable; the
// two children are returned, lower range first.
func (s *Server) SplitShard(project, logstore string, shard int, key string) ([]int, error) {
	infos, err := s.store.Split(project, logstore, shard, key, 0)
	if err != nil {
		return nil, err
	}
	return shardIDs(infos[1:]), nil
}

// SplitShardInto splits a readwrite shard into n children of equal hash
// ranges, as the SDK's SplitNumShard does, returning the children's IDs.
func (s *Server) SplitShardInto(project, logstore string, shard, n int) ([]int, error) {
	infos, err := s.store.Split(project, logstore, shard, "", n)
	if err != nil {
		return nil, err
	}
	return shardIDs(infos[1:]), nil
}

// MergeShards merges a readwrite shard with its right-hand readwrite
// neighbour, as the SDK's MergeShards does. Both turn readonly; the new
// child's ID is returned.
func (s *Server) MergeShards(project, logstore string, shard int) (int, error) {
	infos, err := s.store.Merge(project, logstore, shard)
	if err != nil {
		return 0, err
	}
	return infos[0].ID, nil
}

func shardIDs(infos []store.ShardInfo) []int {
	ids := make([]int, len(infos))
	for i, in := range infos {
		ids[i] = in.ID
	}
	return ids
}

// IssueTemporaryCredentials issues credentials for role valid for
// lifetime, as STS would, for tests that need a security token without
// going through STS. Requests signed with them are accepted until they
// expire, then refused as the service refuses an expired token.
func (s *Server) IssueTemporaryCredentials(role string, lifetime time.Duration) TemporaryCredentials {
	return s.temp.issue(role, lifetime)
}

// ExpireTemporaryCredentials makes every temporary credential issued so
// far expire now, as a revocation would, so that tests can see a client
// meet a refused token; the metadata service hands out new ones.
func (s *Server) ExpireTemporaryCredentials() {
	s.temp.expireAll()
	s.instance.mu.Lock()
	s.instance.current = nil
	s.instance.mu.Unlock()
}

// saveLoop persists consumer-group state periodically until Close.
func (s *Server) saveLoop() {
	defer s.bg.Done()
	t := time.NewTicker(snapshotInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.store.SaveMeta(); err != nil {
				s.log.Error("save emulator state", "err", err)
			}
		}
	}
}

func (s *Server) groupsSnapshot() (json.RawMessage, error) {
	return json.Marshal(s.groups.Snapshot())
}

func (s *Server) restoreGroups(b json.RawMessage) error {
	var st groups.State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("decode consumer groups: %w", err)
	}
	s.groups.Restore(st)
	return nil
}
