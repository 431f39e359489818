package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pierrec/lz4/v4"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

func TestEvenRanges(t *testing.T) {
	r, err := evenRanges(zeroKey, MaxKey, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{zeroKey, "55555555555555555555555555555555"},
		{"55555555555555555555555555555555", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", MaxKey},
	}
	for i := range want {
		if r[i] != want[i] {
			t.Errorf("range %d = %v, want %v", i, r[i], want[i])
		}
	}
	if _, err := evenRanges("00000000000000000000000000000000", "00000000000000000000000000000001", 2); err == nil {
		t.Error("split of a one-key range succeeded")
	}
}

func TestNormalizeKey(t *testing.T) {
	for in, want := range map[string]string{
		"AB":                               "ab000000000000000000000000000000",
		"ffffffffffffffffffffffffffffffff": MaxKey,
		"0":                                zeroKey,
	} {
		if got, ok := NormalizeKey(in); !ok || got != want {
			t.Errorf("NormalizeKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "xyz", "000000000000000000000000000000000"} {
		if _, ok := NormalizeKey(bad); ok {
			t.Errorf("NormalizeKey(%q) accepted", bad)
		}
	}
}

// TestConcurrentWritesDuringSplits writes from several goroutines while
// shards split and merge, then checks every group is stored exactly once
// and each shard's sequence numbers are contiguous.
func TestConcurrentWritesDuringSplits(t *testing.T) {
	s, _, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureProject("p"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLogstore("p", LogstoreConfig{Name: "l", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 4, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				key := ""
				if i%2 == 0 {
					key, _ = NormalizeKey(fmt.Sprintf("%x", (w*perWriter+i)%256))
				}
				id, err := s.Route("p", "l", key)
				if err != nil {
					t.Error(err)
					return
				}
				if _, _, err := s.Append("p", "l", id, key, []byte(fmt.Sprintf("w%d-%d", w, i)), nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for _, id := range []int{0, 1} {
		if _, err := s.Split("p", "l", id, "", 2); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Merge("p", "l", 2); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	seen := map[string]int{}
	infos, _ := s.Shards("p", "l")
	for _, in := range infos {
		res, err := s.Read("p", "l", in.ID, ReadRequest{From: in.Begin, Until: -1, MaxCount: 1 << 30, MaxRaw: 1 << 30}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Next != in.End || int64(res.Count) != in.End-in.Begin {
			t.Fatalf("shard %d: read %d groups to %d, range [%d, %d)", in.ID, res.Count, res.Next, in.Begin, in.End)
		}
		if res.Count == 0 {
			continue
		}
		raw := make([]byte, res.Raw)
		if _, err := lz4.UncompressBlock(res.Body, raw); err != nil {
			t.Fatal(err)
		}
		for len(raw) > 0 {
			n := int(raw[1]) // small groups: one-byte length
			seen[string(raw[2:2+n])]++
			raw = raw[2+n:]
		}
	}
	if len(seen) != writers*perWriter {
		t.Fatalf("stored %d distinct groups, wrote %d", len(seen), writers*perWriter)
	}
	for g, n := range seen {
		if n != 1 {
			t.Fatalf("group %s stored %d times", g, n)
		}
	}
}

func TestReadBounds(t *testing.T) {
	s, _, _ := Open(Options{})
	defer s.Close()
	s.EnsureProject("p")
	s.CreateLogstore("p", LogstoreConfig{Name: "l", ShardCount: 1})
	for i := range 5 {
		s.Append("p", "l", 0, "", []byte{byte(i)}, nil)
	}
	in, _ := s.ShardInfo("p", "l", 0)
	var ae *apierr.Error
	for _, from := range []int64{in.Begin - 1, in.End + 1} {
		_, err := s.Read("p", "l", 0, ReadRequest{From: from, Until: -1, MaxCount: 10, MaxRaw: 1 << 20}, nil)
		if !errors.As(err, &ae) || ae.Code != "InvalidCursor" {
			t.Errorf("read from %d: %v, want InvalidCursor", from-in.Begin, err)
		}
	}
	res, err := s.Read("p", "l", 0, ReadRequest{From: in.Begin + 1, Until: in.Begin + 3, MaxCount: 10, MaxRaw: 1 << 20}, nil)
	if err != nil || res.Count != 2 || res.Next != in.Begin+3 {
		t.Fatalf("bounded read: %+v, %v", res, err)
	}
	res, _ = s.Read("p", "l", 0, ReadRequest{From: in.Begin, Until: -1, MaxCount: 10, MaxRaw: 1}, nil)
	if res.Count != 1 {
		t.Fatalf("raw cap: %d groups, want 1", res.Count)
	}
}

func TestDataDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(Options{Dir: dir}); err == nil {
		t.Fatal("a second store opened the same data dir")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, _, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	s.Close()
}
