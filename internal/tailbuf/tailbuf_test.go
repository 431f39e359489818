package tailbuf_test

import (
	"strings"
	"testing"

	"github.com/slspipe/slspipe/internal/tailbuf"
)

func TestKeepsTheTail(t *testing.T) {
	b := tailbuf.New(8)
	for _, s := range []string{"abc", "defgh", "ijklmnopq", "r"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "klmnopqr" {
		t.Errorf("kept %q, want the last 8 bytes %q", got, "klmnopqr")
	}
	b = tailbuf.New(100)
	b.Write([]byte(strings.Repeat("x", 10)))
	if b.String() != strings.Repeat("x", 10) {
		t.Errorf("short writes are kept whole, got %q", b.String())
	}
}
