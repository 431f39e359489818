package natsserver

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRestartKeepsPortAndStreams(t *testing.T) {
	s, err := Start(Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	url := s.URL()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("kept")); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if s.Server() != nil {
		t.Fatal("server still reported running after Stop")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Fatalf("URL changed from %s to %s", url, s.URL())
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	last := func() (*jetstream.RawStreamMsg, error) {
		st, err := js.Stream(rctx, "S")
		if err != nil {
			return nil, err
		}
		return st.GetLastMsgForSubject(rctx, "s.1")
	}
	msg, err := last()
	for err != nil && rctx.Err() == nil { // the client is still reconnecting
		time.Sleep(20 * time.Millisecond)
		msg, err = last()
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "kept" {
		t.Fatalf("stored message %q after restart", msg.Data)
	}
}

func TestTemporaryStoreIsRemoved(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.StoreDir()
	s.Shutdown()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("store %s still there after Shutdown: %v", dir, err)
	}
}
