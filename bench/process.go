package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/slspipe/slspipe/internal/tailbuf"
	"io"
	"os"
	"os/exec"
	"strconv"
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
	stderr *tailbuf.Buffer
	done   chan struct{}
	err    error // set before done closes
}

// startDaemon starts bin and waits until it prints "listening on ADDR".
func startDaemon(ctx context.Context, name, bin string, args, env []string) (*daemon, error) {
	d := &daemon{name: name, stderr: tailbuf.New(16 << 10), done: make(chan struct{})}
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
	peakRSS  int64         // bytes (VmHWM; see childPeakRSS)
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
	stderr := tailbuf.New(32 << 10)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	m := measured{started: time.Now()}
	if err := cmd.Start(); err != nil {
		return m, fmt.Errorf("start %s: %w", bin, err)
	}
	// Read after the start: the child's rusage may carry this value.
	parentHWM, _ := readVmHWM("self")
	var wg sync.WaitGroup
	duringCtx, stopDuring := context.WithCancel(ctx)
	if during != nil {
		wg.Go(func() { during(duringCtx, cmd.Process.Pid) })
	}
	var sampledHWM int64
	wg.Go(func() { sampledHWM = sampleVmHWM(duringCtx, cmd.Process.Pid, 50*time.Millisecond) })
	m.exitErr = cmd.Wait()
	m.wall = time.Since(m.started)
	stopDuring()
	wg.Wait()
	m.stdout, m.stderr = stdout.String(), stderr.String()
	m.timedOut = errors.Is(runCtx.Err(), context.DeadlineExceeded)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.peakRSS = childPeakRSS(ru.Maxrss<<10, parentHWM, sampledHWM) // KiB on Linux
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if ctx.Err() != nil {
		return m, ctx.Err()
	}
	return m, nil
}

// childPeakRSS picks the child's peak resident memory. Go starts children
// with CLONE_VM|CLONE_VFORK, so the kernel seeds the child's ru_maxrss with
// the harness's own high-water mark at the exec: rusage is the child's peak
// only when it exceeds parentHWM (read after the start). Otherwise the
// child's VmHWM sampled while it ran is used, which misses only growth in
// the last sampling interval.
func childPeakRSS(rusageMax, parentHWM, sampled int64) int64 {
	if rusageMax > parentHWM || sampled <= 0 {
		return rusageMax
	}
	return sampled
}

// sampleVmHWM reads pid's VmHWM every interval until ctx ends or the
// process is gone, and returns the highest value read (0 when none).
func sampleVmHWM(ctx context.Context, pid int, every time.Duration) int64 {
	t := time.NewTicker(every)
	defer t.Stop()
	var peak int64
	for {
		v, ok := readVmHWM(strconv.Itoa(pid))
		if !ok {
			return peak
		}
		peak = max(peak, v)
		select {
		case <-ctx.Done():
			return peak
		case <-t.C:
		}
	}
}

// readVmHWM returns the VmHWM line of /proc/<pid>/status in bytes ("self"
// for this process); false when the process or its memory is gone.
func readVmHWM(pid string) (int64, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
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
