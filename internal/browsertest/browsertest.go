// Package browsertest drives a real headless Chromium in tests, through the
// DevTools protocol (chromedp), for the pages slspipe serves.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPaths are where Debian's chromium package and the usual others
// put the browser.
var chromiumPaths = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium returns the browser's path: $SLSPIPE_CHROMIUM, else the first of
// chromiumPaths found. When there is none the test is skipped, saying how
// to install it; scripts/setup.sh does, so CI always has one.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLSPIPE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SLSPIPE_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range chromiumPaths {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium is not installed (scripts/setup.sh installs Debian's chromium package): skipping the browser test")
	return ""
}

// New starts a headless Chromium with a fresh profile, sized width×height,
// and returns a context for chromedp actions on its first tab. The browser
// stops when the test ends.
func New(t testing.TB, width, height int) context.Context {
	t.Helper()
	path := Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so that a broken install fails here, clearly.
	// The first run must not have a deadline: it would stop the browser.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("starting %s: no answer within 60s", path)
	}
	return ctx
}

// WaitTrue polls a JavaScript expression in the page until it is true, or
// fails the test after timeout with what the page shows.
func WaitTrue(t testing.TB, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
		t.Fatalf("waiting for %s (%s): %v; the page shows:\n%s", what, expr, err, body)
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// into T, failing the test on error.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// Screenshot returns a PNG of the whole page.
func Screenshot(t testing.TB, ctx context.Context) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// Navigate loads url in the tab.
func Navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
}
