package stdout_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/connectors/stdout"
	"github.com/slspipe/slspipe/engine"
)

type countConfirmer struct {
	mu  sync.Mutex
	n   int
	err error
}

func (c *countConfirmer) Confirm(n int, err error) {
	c.mu.Lock()
	c.n += n
	if err != nil {
		c.err = err
	}
	c.mu.Unlock()
}

func field(k, v string) engine.Field { return engine.Field{Key: []byte(k), Value: []byte(v)} }

func TestSinkWritesJSONLines(t *testing.T) {
	var out bytes.Buffer
	s := stdout.New(&out, stdout.JSON)
	recs := []engine.Record{
		{
			Fields: []engine.Field{field("msg", "say \"hi\"\n\tbye\\"), field("bad", "\xff\x01ok"), field("uni", "héllo")},
			Time:   engine.Timestamp{Sec: 1700000000, Nsec: 5},
			Topic:  "nginx", Source: "10.0.0.1",
			Tags: []engine.Field{field("host", "web-1")},
		},
		{Payload: []byte(`{"already":"serialized"}`)},
	}
	c := &countConfirmer{}
	if err := s.Write(context.Background(), recs, c); err != nil {
		t.Fatal(err)
	}
	if c.n != 2 || c.err != nil {
		t.Fatalf("confirmed %d (err %v), want 2", c.n, c.err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), out.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("line %q is not JSON: %v", lines[0], err)
	}
	want := map[string]any{
		"__time__": 1700000000.0, "__time_ns__": 5.0, "__topic__": "nginx", "__source__": "10.0.0.1",
		"__tag__:host": "web-1", "msg": "say \"hi\"\n\tbye\\", "bad": "\ufffd\x01ok", "uni": "héllo",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if lines[1] != `{"already":"serialized"}` {
		t.Errorf("payload line = %q", lines[1])
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestSinkReportsWriteErrorsWithoutConfirming(t *testing.T) {
	c := &countConfirmer{}
	err := stdout.New(failingWriter{}, stdout.JSON).Write(context.Background(), []engine.Record{{}}, c)
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Write = %v, want the writer's error", err)
	}
	if c.n != 0 {
		t.Fatalf("confirmed %d records that were not written", c.n)
	}
}

func TestSinkThroughEngine(t *testing.T) {
	var out bytes.Buffer
	src, err := generate.New(generate.Config{Shards: 3, Count: 300, BatchSize: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.NewConfig().WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := engine.New("stdout", src, nil, stdout.New(&out, stdout.JSON), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	seen := map[string]bool{}
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		id, _ := m["request_id"].(string)
		if id == "" || m["status"] == nil {
			t.Fatalf("line lacks generated fields: %q", sc.Text())
		}
		seen[id] = true
	}
	if len(seen) != 300 {
		t.Fatalf("wrote %d distinct records, want 300", len(seen))
	}
}

func TestSinkTextFormat(t *testing.T) {
	var out bytes.Buffer
	rec := engine.Record{
		Fields: []engine.Field{field("status", "200"), field("ua", "curl/8 (x)"), field("empty", "")},
		Time:   engine.Timestamp{Sec: 1700000000},
		Topic:  "nginx",
		Tags:   []engine.Field{field("host", "web-1")},
	}
	c := &countConfirmer{}
	if err := stdout.New(&out, stdout.Text).Write(context.Background(), []engine.Record{rec}, c); err != nil {
		t.Fatal(err)
	}
	want := `__time__=2023-11-14T22:13:20Z __topic__=nginx __tag__:host=web-1 status=200 ua="curl/8 (x)" empty=""` + "\n"
	if out.String() != want || c.n != 1 {
		t.Fatalf("text line = %q (confirmed %d), want %q", out.String(), c.n, want)
	}
	if f, err := stdout.ParseFormat("text"); err != nil || f != stdout.Text {
		t.Fatalf("ParseFormat(text) = %v, %v", f, err)
	}
	if _, err := stdout.ParseFormat("xml"); err == nil {
		t.Fatal("ParseFormat accepted xml")
	}
}
