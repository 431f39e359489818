// Package natsserver runs an embedded NATS server with JetStream on the
// loopback interface, for tests, benchmarks and the demo.
//
// # Notes
//
// A [Server] keeps its port and store directory across [Server.Restart], so
// clients reconnect to the same URL and find their streams again: tests use
// it to simulate an outage.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an embedded server. The zero value runs JetStream on a
// random loopback port with a temporary store directory.
type Options struct {
	// Port is the client port; 0 picks a free one.
	Port int
	// StoreDir is JetStream's file store directory. When empty a temporary
	// directory is created and removed by [Server.Shutdown].
	StoreDir string
	// MaxPayload, when positive, is the largest message the server accepts.
	MaxPayload int32
	// Configure, when set, adjusts the server options before each start
	// (authorization, TLS, limits). Host, port and store are set before it
	// runs and must not be changed.
	Configure func(*server.Options)
}

// Server is a running embedded server.
type Server struct {
	opts    Options
	port    int
	tempDir string

	mu  sync.Mutex // guards srv
	srv *server.Server
}

// Start starts a server and waits until it accepts connections.
func Start(opts Options) (*Server, error) {
	s := &Server{opts: opts, port: opts.Port}
	if s.opts.StoreDir == "" {
		dir, err := os.MkdirTemp("", "slspipe-nats-")
		if err != nil {
			return nil, fmt.Errorf("embedded nats: store dir: %w", err)
		}
		s.opts.StoreDir, s.tempDir = dir, dir
	}
	if s.port == 0 {
		p, err := freePort()
		if err != nil {
			s.removeTemp()
			return nil, err
		}
		s.port = p
	}
	if err := s.start(); err != nil {
		s.removeTemp()
		return nil, err
	}
	return s, nil
}

// freePort asks the kernel for an unused loopback port, so that the server
// has a fixed port to come back to after a restart.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("embedded nats: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	o := &server.Options{
		Host:      "127.0.0.1",
		Port:      s.port,
		JetStream: true,
		StoreDir:  s.opts.StoreDir,
		NoLog:     true,
		NoSigs:    true,
	}
	if s.opts.MaxPayload > 0 {
		o.MaxPayload = s.opts.MaxPayload
	}
	if s.opts.Configure != nil {
		s.opts.Configure(o)
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return errors.New("embedded nats: not ready for connections after 10s")
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	return nil
}

// URL returns the client URL, nats://127.0.0.1:<port>.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Port returns the client port.
func (s *Server) Port() int { return s.port }

// StoreDir returns the JetStream store directory.
func (s *Server) StoreDir() string { return s.opts.StoreDir }

// Server returns the running nats-server, or nil while stopped.
func (s *Server) Server() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Stop shuts the server down and waits for it, keeping its store for
// [Server.Restart]. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart starts a stopped server again on the same port and store
// directory; a running one is stopped first.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Shutdown stops the server and removes a temporary store directory.
func (s *Server) Shutdown() {
	s.Stop()
	s.removeTemp()
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}
