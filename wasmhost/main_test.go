package wasmhost_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/slspipe/slspipe/wasmhost"
)

// modDir holds the guest modules, built from plugins/ sources once per test binary.
var modDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wasmhost-modules-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("../plugins/build.sh", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build guest modules:", err)
		return 1
	}
	modDir = dir
	return m.Run()
}

// modulePath returns the built module, skipping the test when its toolchain is absent
// (failing instead under CI, where scripts/setup-wasm.sh must have installed it).
func modulePath(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(modDir, name+".wasm")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("module %s was not built: %v", name, err)
		}
		tb.Skipf("module %s not built (toolchain missing; run scripts/setup-wasm.sh)", name)
	}
	return p
}

var fieldKeys = []string{"host", "method", "path", "status", "bytes", "agent", "referer", "latency", "client", "trace"}

// sampleValues returns the values of record i: with the keys, about 200 bytes.
func sampleValues(i int) []string {
	return []string{
		"web-" + strconv.Itoa(i%7) + ".example.internal",
		"GET",
		"/api/v1/orders/" + strconv.Itoa(100000+i),
		"200",
		strconv.Itoa(512 + i%1000),
		"Mozilla/5.0 (X11; Linux x86_64)",
		"https://shop.example/cart",
		"0.0" + strconv.Itoa(i%10),
		"10.1." + strconv.Itoa(i%255) + ".7",
		"4bf92f3577b34da6a3ce929d0e0e" + strconv.Itoa(1000+i%9000),
	}
}

// sampleRecord returns record i with its own allocations.
func sampleRecord(i int) wasmhost.Record {
	r := wasmhost.Record{Sec: 1_700_000_000 + uint32(i), Nsec: uint32(i)}
	for j, v := range sampleValues(i) {
		r.Fields = append(r.Fields, wasmhost.Field{Key: []byte(fieldKeys[j]), Value: []byte(v)})
	}
	return r
}

// sampleBatch returns n records of 10 fields whose bytes share one buffer, two bytes
// apart, the way a decoded SLS log group's fields alias its decompressed protobuf.
func sampleBatch(n int) *wasmhost.Batch {
	b := &wasmhost.Batch{
		Topic:  []byte("nginx"),
		Source: []byte("10.0.0.1"),
		Tags:   []wasmhost.Field{{Key: []byte("__hostname__"), Value: []byte("node-1")}},
	}
	var buf []byte
	type span struct{ k, kl, v, vl int }
	spans := make([][]span, n)
	for i := 0; i < n; i++ {
		for j, v := range sampleValues(i) {
			buf = append(buf, 0x0a, byte(len(fieldKeys[j])))
			k := len(buf)
			buf = append(buf, fieldKeys[j]...)
			buf = append(buf, 0x12, byte(len(v)))
			vAt := len(buf)
			buf = append(buf, v...)
			spans[i] = append(spans[i], span{k, len(fieldKeys[j]), vAt, len(v)})
		}
	}
	fields := make([]wasmhost.Field, 0, n*len(fieldKeys))
	for i := 0; i < n; i++ {
		start := len(fields)
		for _, s := range spans[i] {
			fields = append(fields, wasmhost.Field{Key: buf[s.k : s.k+s.kl], Value: buf[s.v : s.v+s.vl]})
		}
		b.Records = append(b.Records, wasmhost.Record{Sec: 1_700_000_000 + uint32(i), Nsec: uint32(i), Fields: fields[start:len(fields):len(fields)]})
	}
	return b
}
