package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/configuration.md")

const docPath = "../docs/configuration.md"

// TestConfigurationDoc fails when docs/configuration.md no longer matches
// the spec; run with -update to regenerate it.
func TestConfigurationDoc(t *testing.T) {
	got := Markdown()
	if *update {
		if err := os.WriteFile(docPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (run go test ./config -run TestConfigurationDoc -update)", err)
	}
	if string(want) != got {
		t.Fatalf("%s is stale; regenerate it with: go test ./config -run TestConfigurationDoc -update", filepath.Clean(docPath))
	}
}

// TestDocumentsEveryKey walks the spec and checks that every key is in the
// reference with a description.
func TestDocumentsEveryKey(t *testing.T) {
	md := Markdown()
	var walk func(reflect.Type, string)
	seen := map[reflect.Type]bool{}
	walk = func(rt reflect.Type, path string) {
		if seen[rt] {
			return
		}
		seen[rt] = true
		for _, f := range specOf(rt).fields {
			if f.doc == "" {
				t.Errorf("%s has no doc tag", join(path, f.name))
			}
			if !strings.Contains(md, "| `"+f.name+"` |") {
				t.Errorf("%s is not in the reference", join(path, f.name))
			}
			if st := structOf(f.typ); st != nil {
				walk(st, join(path, f.name))
			}
		}
	}
	walk(reflect.TypeFor[Pipeline](), "")
	for _, want := range []string{"## `source.sls`", "## `sink.nats`", "## `steps[]`", "`64MiB`", "*$POD_NAME, the pod name in Kubernetes", "Exactly one of `sls`, `nats`, `generate`."} {
		if !strings.Contains(md, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}
