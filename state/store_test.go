package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The test binary doubles as a helper process: with helperEnv set it runs
// one of the helpers below instead of the tests.
const helperEnv = "SLSPIPE_STATE_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hold":
		helperHold(os.Getenv("STATE_PATH"))
	case "save-loop":
		helperSaveLoop(os.Getenv("STATE_PATH"))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperHold opens the store, says so, and keeps it open until stdin closes.
func helperHold(path string) {
	st, err := Open(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	_ = st.Close()
	os.Exit(0)
}

// helperSaveLoop saves the same generation number as the cursor of every
// shard, generation after generation, reporting each completed save.
func helperSaveLoop(path string) {
	st, err := Open(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for gen := 1; ; gen++ {
		cps := make([]Checkpoint, crashShards)
		for i := range cps {
			cps[i] = Checkpoint{Pipeline: "p", Logstore: "nginx", Shard: i, Cursor: "gen-" + strconv.Itoa(gen)}
		}
		if err := st.Save(cps); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("saved", gen)
	}
}

const crashShards = 16

func startHelper(t *testing.T, mode, path string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "STATE_PATH="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout)
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, path
}

func TestSaveLoadRoundTrip(t *testing.T) {
	st, _ := openTemp(t)
	ct := time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC)
	in := []Checkpoint{
		{Pipeline: "p1", Logstore: "nginx", Shard: 1, Cursor: "MTcwMDAwMDAwMDAwMDAwMDAwMQ==", CursorTime: ct},
		{Pipeline: "p1", Logstore: "nginx", Shard: 0, Cursor: "c0"},
		{Pipeline: "p1", Logstore: "access", Shard: 7, Cursor: "c7"},
		{Pipeline: "p2", Logstore: "nginx", Shard: 0, Cursor: "other"},
	}
	before := time.Now().Add(-time.Second)
	if err := st.Save(in); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load("p1")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ls     string
		shard  int
		cursor string
	}{{"access", 7, "c7"}, {"nginx", 0, "c0"}, {"nginx", 1, "MTcwMDAwMDAwMDAwMDAwMDAwMQ=="}}
	if len(got) != len(want) {
		t.Fatalf("Load(p1) returned %d checkpoints, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Pipeline != "p1" || g.Logstore != w.ls || g.Shard != w.shard || g.Cursor != w.cursor {
			t.Errorf("checkpoint %d = %+v, want %s/%d %s", i, g, w.ls, w.shard, w.cursor)
		}
		if g.UpdatedAt.Before(before) {
			t.Errorf("checkpoint %d UpdatedAt %v not set by Save", i, g.UpdatedAt)
		}
	}
	if !got[2].CursorTime.Equal(ct) {
		t.Errorf("CursorTime = %v, want %v", got[2].CursorTime, ct)
	}

	cp, ok, err := st.Get("p2", "nginx", 0)
	if err != nil || !ok || cp.Cursor != "other" {
		t.Fatalf("Get(p2, nginx, 0) = %+v, %v, %v", cp, ok, err)
	}
	if _, ok, err := st.Get("p2", "nginx", 1); err != nil || ok {
		t.Fatalf("Get of a missing shard = %v, %v; want not found", ok, err)
	}
	if cps, err := st.Load("never"); err != nil || len(cps) != 0 {
		t.Fatalf("Load of an unknown pipeline = %v, %v", cps, err)
	}

	// A later save replaces the cursor; Delete forgets a shard.
	if err := st.Save([]Checkpoint{{Pipeline: "p1", Logstore: "nginx", Shard: 0, Cursor: "c0b"}}); err != nil {
		t.Fatal(err)
	}
	if cp, _, _ := st.Get("p1", "nginx", 0); cp.Cursor != "c0b" {
		t.Fatalf("cursor after second save = %q, want c0b", cp.Cursor)
	}
	if err := st.Delete("p1", "access", 7); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete("p1", "access", 7); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if got, _ := st.Load("p1"); len(got) != 2 {
		t.Fatalf("after Delete, Load(p1) = %+v, want 2 checkpoints", got)
	}
}

func TestSaveRejectsInvalidAndWritesNothing(t *testing.T) {
	st, _ := openTemp(t)
	err := st.Save([]Checkpoint{
		{Pipeline: "p", Logstore: "nginx", Shard: 0, Cursor: "ok"},
		{Pipeline: "p", Logstore: "nginx", Shard: 1, Cursor: ""},
	})
	if err == nil || !strings.Contains(err.Error(), "cursor is empty") {
		t.Fatalf("Save with an empty cursor: err = %v", err)
	}
	if got, _ := st.Load("p"); len(got) != 0 {
		t.Fatalf("a rejected Save stored %+v", got)
	}
}

func TestSaveIsAtomic(t *testing.T) {
	st, _ := openTemp(t)
	if err := st.Save([]Checkpoint{{Pipeline: "p", Logstore: "a", Shard: 0, Cursor: "old"}}); err != nil {
		t.Fatal(err)
	}
	// A checkpoint whose pipeline bucket cannot be created (the name is
	// taken by nothing, but an oversized key is refused by bbolt) fails
	// the whole transaction after the first Put already happened.
	huge := strings.Repeat("x", bolt.MaxKeySize+1)
	err := st.Save([]Checkpoint{
		{Pipeline: "p", Logstore: "a", Shard: 0, Cursor: "new"},
		{Pipeline: "p", Logstore: huge, Shard: 1, Cursor: "new"},
	})
	if err == nil {
		t.Fatal("Save with an oversized key succeeded")
	}
	cp, _, _ := st.Get("p", "a", 0)
	if cp.Cursor != "old" {
		t.Fatalf("a failed Save changed shard 0 to %q; want it untouched", cp.Cursor)
	}
}

func TestReopenKeepsCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save([]Checkpoint{{Pipeline: "p", Logstore: "nginx", Shard: 3, Cursor: "c3"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	cp, ok, err := st.Get("p", "nginx", 3)
	if err != nil || !ok || cp.Cursor != "c3" {
		t.Fatalf("after reopen Get = %+v, %v, %v", cp, ok, err)
	}
}

func TestSecondOpenInProcessIsRefused(t *testing.T) {
	_, path := openTemp(t)
	_, err := Open(path, WithLockTimeout(50*time.Millisecond))
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open: err = %v, want ErrInUse", err)
	}
	want := "state file " + path + " is in use by another slspipe process"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestOpenHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	_, out := startHelper(t, "hold", path)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("helper did not open the store: %q %v", out.Text(), out.Err())
	}
	_, err := Open(path, WithLockTimeout(100*time.Millisecond))
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open while another process holds it: err = %v", err)
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()

	random := filepath.Join(dir, "random.db")
	buf := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(buf)
	if err := os.WriteFile(random, buf, 0o600); err != nil {
		t.Fatal(err)
	}

	tiny := filepath.Join(dir, "tiny.db")
	if err := os.WriteFile(tiny, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A real store with enough data to span many pages, cut in half.
	truncated := filepath.Join(dir, "truncated.db")
	st, err := Open(truncated)
	if err != nil {
		t.Fatal(err)
	}
	var cps []Checkpoint
	for i := 0; i < 2000; i++ {
		cps = append(cps, Checkpoint{Pipeline: "p", Logstore: "nginx", Shard: i, Cursor: strings.Repeat("c", 100)})
	}
	if err := st.Save(cps); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(truncated)
	if err := os.Truncate(truncated, info.Size()/2); err != nil {
		t.Fatal(err)
	}

	// A store whose data pages (not its meta pages) were overwritten.
	scribbled := filepath.Join(dir, "scribbled.db")
	st, err = Open(scribbled)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save(cps); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	data, _ := os.ReadFile(scribbled)
	rand.New(rand.NewSource(2)).Read(data[4*4096:])
	if err := os.WriteFile(scribbled, data, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{random, tiny, truncated, scribbled} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			st, err := Open(path, WithLockTimeout(50*time.Millisecond))
			if err == nil {
				st.Close()
				t.Fatal("Open of a damaged file succeeded")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v; want ErrCorrupt naming the path", err)
			}
			// The failed Open must not keep the file locked.
			if _, err := Open(path, WithLockTimeout(50*time.Millisecond)); errors.Is(err, ErrInUse) {
				t.Fatalf("a failed Open left the file locked: %v", err)
			}
		})
	}
}

func TestForeignAndNewerFiles(t *testing.T) {
	dir := t.TempDir()

	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("users"))
		return b.Put([]byte("k"), []byte("v"))
	})
	_ = db.Close()
	if _, err := Open(foreign); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "without a schema version") {
		t.Fatalf("Open of another program's bbolt file: %v", err)
	}

	newer := filepath.Join(dir, "newer.db")
	st, err := Open(newer)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("99"))
	})
	_ = st.Close()
	_, err = Open(newer)
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "schema version 99") || !strings.Contains(err.Error(), newer) {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "state.db")
	_, err := Open(path)
	if err == nil || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open in a missing directory: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	st, _ := openTemp(t)
	const writers, rounds = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := 0; w < writers; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				cps := []Checkpoint{
					{Pipeline: "p", Logstore: "nginx", Shard: w * 2, Cursor: fmt.Sprint(r)},
					{Pipeline: "p", Logstore: "nginx", Shard: w*2 + 1, Cursor: fmt.Sprint(r)},
				}
				if err := st.Save(cps); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				cps, err := st.Load("p")
				if err != nil {
					errs <- err
					return
				}
				// Each Save wrote a pair; a reader must never see a pair split.
				seen := map[int]string{}
				for _, cp := range cps {
					seen[cp.Shard] = cp.Cursor
				}
				for s := 0; s < writers*2; s += 2 {
					if a, ok := seen[s]; ok && seen[s+1] != a {
						errs <- fmt.Errorf("shards %d and %d saved together read as %q and %q", s, s+1, a, seen[s+1])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cps, _ := st.Load("p")
	if len(cps) != writers*2 {
		t.Fatalf("got %d checkpoints, want %d", len(cps), writers*2)
	}
	for _, cp := range cps {
		if cp.Cursor != fmt.Sprint(rounds-1) {
			t.Errorf("shard %d cursor %q, want the last round %d", cp.Shard, cp.Cursor, rounds-1)
		}
	}
}

func TestCrashDuringSavesLeavesConsistentState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd, out := startHelper(t, "save-loop", path)
	// Let a few saves complete, then kill the writer mid-stream.
	saved := 0
	for saved < 20 && out.Scan() {
		if strings.HasPrefix(out.Text(), "error") {
			t.Fatal(out.Text())
		}
		saved++
	}
	if saved < 20 {
		t.Fatalf("helper stopped after %d saves: %v", saved, out.Err())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	st, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer st.Close()
	cps, err := st.Load("p")
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != crashShards {
		t.Fatalf("after crash %d shards stored, want %d", len(cps), crashShards)
	}
	gen := cps[0].Cursor
	for _, cp := range cps {
		if cp.Cursor != gen {
			t.Fatalf("shard %d has %q but shard 0 has %q: a Save was half-written", cp.Shard, cp.Cursor, gen)
		}
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(gen, "gen-"))
	if n < 20 {
		t.Fatalf("stored generation %d is older than the last reported save (>= 20)", n)
	}
}

func BenchmarkSave16Shards(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cps := make([]Checkpoint, 16)
	for i := range cps {
		cps[i] = Checkpoint{Pipeline: "p", Logstore: "nginx", Shard: i, Cursor: "MTcwMDAwMDAwMDAwMDAwMDAwMQ=="}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.Save(cps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOriginRoundTripAndSchemaV1Records: a checkpoint keeps what it is a
// position in; a record written before origins existed (schema version 1
// without the field) reads back unbound, and a bound record is still a
// schema 1 record an older slspipe reads.
func TestOriginRoundTripAndSchemaV1Records(t *testing.T) {
	st, path := openTemp(t)
	const origin = "sls://cn-hangzhou.log.aliyuncs.com/proj/nginx"
	if err := st.Save([]Checkpoint{{Pipeline: "p", Logstore: "nginx", Shard: 0, Cursor: "c0", Origin: origin}}); err != nil {
		t.Fatal(err)
	}
	if cp, ok, err := st.Get("p", "nginx", 0); err != nil || !ok || cp.Origin != origin {
		t.Fatalf("Get = %+v, %v, %v; want origin %s", cp, ok, err, origin)
	}
	// What an earlier slspipe wrote: no origin.
	err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).Bucket([]byte("p")).Put(encodeKey("nginx", 1), []byte(`{"cursor":"c1","updated_at":"2026-01-02T03:04:05Z"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cps, err := st.Load("p")
	if err != nil || len(cps) != 2 {
		t.Fatalf("Load = %+v, %v", cps, err)
	}
	if cps[0].Origin != origin || cps[1].Origin != "" || cps[1].Cursor != "c1" {
		t.Fatalf("loaded %+v", cps)
	}
	var raw struct {
		Cursor string `json:"cursor"`
	}
	err = st.db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != "1" {
			return fmt.Errorf("schema version %q", v)
		}
		return json.Unmarshal(tx.Bucket(bucketCheckpoints).Bucket([]byte("p")).Get(encodeKey("nginx", 0)), &raw)
	})
	if err != nil || raw.Cursor != "c0" {
		t.Fatalf("a bound record as an older reader sees it: %+v, %v", raw, err)
	}
}
