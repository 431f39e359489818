package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process has to exit after SIGTERM before it is
// killed.
const stopGrace = 10 * time.Second

// command returns a command that is SIGTERMed when ctx ends and killed if
// it outlives stopGrace, and that the kernel kills if the harness dies.
func command(ctx context.Context, bin string, args []string, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	// Own process group: a Ctrl-C reaches the harness only, which stops its
	// children in order. Pdeathsig covers the harness being killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// daemon is a long-running helper process (the emulator, the NATS server).
type daemon struct {
	name   string
	cmd    *exec.Cmd
	addr   string // what followed "listening on "
	stderr *tailBuffer
	done   chan struct{}
	err    error // set before done closes
}

// startDaemon starts bin and waits until it prints "listening on ADDR".
func startDaemon(ctx context.Context, name, bin string, args, env []string) (*daemon, error) {
	d := &daemon{name: name, stderr: newTailBuffer(16 << 10), done: make(chan struct{})}
	// The daemon outlives the caller's step, so it is stopped explicitly
	// rather than by ctx.
	d.cmd = command(context.WithoutCancel(ctx), bin, args, env)
	d.cmd.Stderr = d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case addr <- strings.TrimSpace(a):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	select {
	case d.addr = <-addr:
		return d, nil
	case <-d.done:
		return nil, fmt.Errorf("%s exited before listening (%v): %s", name, d.err, d.stderr.String())
	case <-time.After(30 * time.Second):
		d.stop()
		return nil, fmt.Errorf("%s did not report its address within 30s: %s", name, d.stderr.String())
	case <-ctx.Done():
		d.stop()
		return nil, ctx.Err()
	}
}

// stop sends SIGTERM and waits for the process, killing it after stopGrace.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopGrace):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// measured is what a process under test used.
type measured struct {
	started  time.Time
	wall     time.Duration // start to exit
	peakRSS  int64         // bytes (VmHWM, from rusage)
	cpu      time.Duration // user + system
	stdout   string
	stderr   string
	exitErr  error
	timedOut bool
}

// runMeasured runs bin to completion, calling during (when set) with the
// process id while it runs; during's context ends when the process exits.
func runMeasured(ctx context.Context, timeout time.Duration, bin string, args, env []string,
	during func(ctx context.Context, pid int)) (measured, error) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := command(runCtx, bin, args, env)
	var stdout bytes.Buffer
	stderr := newTailBuffer(32 << 10)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	m := measured{started: time.Now()}
	if err := cmd.Start(); err != nil {
		return m, fmt.Errorf("start %s: %w", bin, err)
	}
	var wg sync.WaitGroup
	duringCtx, stopDuring := context.WithCancel(ctx)
	if during != nil {
		wg.Go(func() { during(duringCtx, cmd.Process.Pid) })
	}
	m.exitErr = cmd.Wait()
	m.wall = time.Since(m.started)
	stopDuring()
	wg.Wait()
	m.stdout, m.stderr = stdout.String(), stderr.String()
	m.timedOut = errors.Is(runCtx.Err(), context.DeadlineExceeded)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.peakRSS = ru.Maxrss << 10 // KiB on Linux
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if ctx.Err() != nil {
		return m, ctx.Err()
	}
	return m, nil
}

// failure describes why a measured run did not succeed, or returns nil.
func (m measured) failure() error {
	switch {
	case m.timedOut:
		return fmt.Errorf("timed out after %s: %s", m.wall.Round(time.Second), lastLines(m.stderr, 5))
	case m.exitErr != nil:
		return fmt.Errorf("%v: %s", m.exitErr, lastLines(m.stderr, 5))
	}
	return nil
}

// lastLines returns the last n lines of s, joined by " | ".
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent
// use, so a process's output can be read while it runs.
type tailBuffer struct {
	mu  sync.Mutex // guards buf
	buf []byte
	max int
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
