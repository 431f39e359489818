package examples_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/wasmhost"
)

// TestLongRunsStayWithinMemory runs modules that build new values (so use the
// SDK's scratch memory) over many batches of varying sizes under a small
// memory limit: memory a batch used must be reused by the next ones, not
// leaked until the limit is hit.
func TestLongRunsStayWithinMemory(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"c_pii_mask", "rust_nginx_parser", "as_fanout_router", "go_custom_serializer"} {
		t.Run(name, func(t *testing.T) {
			var cfg map[string]string
			if name == "as_fanout_router" {
				cfg = map[string]string{"split": "content", "route_by": "status", "routes": "404,500"}
			}
			m, err := wasmhost.Open(ctx, module(t, name), wasmhost.Options{Name: name, Config: cfg, MemoryLimitPages: 256, Timeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			var out wasmhost.Result
			for batch := 0; batch < 1500; batch++ {
				// Sizes and value lengths vary from batch to batch, as they do
				// in production.
				n := 1 + (batch*37)%256
				b := &wasmhost.Batch{Topic: []byte("nginx")}
				for i := 0; i < n; i++ {
					pad := strings.Repeat("x", (batch*13+i*7)%300)
					content := "user u" + strconv.Itoa(i) + "@example.com " + pad + " called 555-123-4567 from 10.1.2.3"
					if name == "rust_nginx_parser" {
						content = `10.1.2.3 - - [01/Jan/2025:00:00:00 +0000] "GET /p/` + pad + ` HTTP/1.1" 200 512 "-" "curl/8"`
					}
					if name == "as_fanout_router" {
						content = "pagerduty,slack," + pad
					}
					b.Records = append(b.Records, record(i, append(common(i), content)...))
				}
				out.Reset()
				if err := m.Process(ctx, b, &out); err != nil {
					t.Fatalf("batch %d (%d records): %v", batch, n, err)
				}
				for i := 0; i < n; i++ {
					if e := out.Outcomes[i].Err; e != nil && strings.Contains(e.Error(), "memory") {
						t.Fatalf("batch %d record %d: %v", batch, i, e)
					}
				}
			}
		})
	}
}
