package engine_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
	"github.com/slspipe/slspipe/internal/browsertest"
)

// TestStatusPageShowsThatThePipelineStopped opens the page of a pipeline
// whose sink holds its records, so that it runs, then lets it finish while
// the listener stays up: the page must turn from live to stopped on the
// status's state alone, with a banner and greyed plots, not keep showing
// the last figures as if live.
func TestStatusPageShowsThatThePipelineStopped(t *testing.T) {
	ctx := browsertest.New(t, 1024, 900)
	sink := enginetest.NewSink(enginetest.SinkConfig{Stalled: true})
	src := enginetest.NewSource(enginetest.SourceConfig{Shards: 2, Batches: 4, Records: 5})
	p := mustNew(t, src, []engine.StageFactory{identity}, sink, testConfig(enginetest.NewStore()))
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	done := start(t, context.Background(), p)

	browsertest.Navigate(t, ctx, srv.URL+"/")
	browsertest.WaitTrue(t, ctx, "the page to show the running pipeline",
		`document.body.dataset.state === "running" && document.body.dataset.live === "true" &&
		 document.querySelectorAll("#shards tbody tr[data-key]").length === 2`, 30*time.Second)
	if banner := browsertest.Eval[string](t, ctx, `getComputedStyle(document.getElementById("banner")).display`); banner != "none" {
		t.Fatalf("a running pipeline's page shows the stopped banner (display %q)", banner)
	}

	sink.Resume()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	browsertest.WaitTrue(t, ctx, "the page to show the stopped pipeline",
		`document.body.dataset.state === "stopped" && document.body.dataset.live === "false"`, 30*time.Second)
	banner := browsertest.Eval[string](t, ctx, `document.getElementById("banner").innerText`)
	if !strings.Contains(banner, "Pipeline stopped") || !strings.Contains(banner, "final, not live") {
		t.Errorf("banner = %q, want it to say the pipeline stopped and the figures are final", banner)
	}
	if f := browsertest.Eval[string](t, ctx, `getComputedStyle(document.getElementById("plot-rate")).filter`); !strings.Contains(f, "grayscale") {
		t.Errorf("plots of a stopped pipeline have filter %q, want them greyed", f)
	}
	if pill := browsertest.Eval[string](t, ctx, `document.getElementById("state").innerText.trim().toLowerCase()`); pill != "stopped" {
		t.Errorf("state pill = %q, want stopped", pill)
	}
}
