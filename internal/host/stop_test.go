package host_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
)

// startProc launches cfg (Name and SocketDir filled) and returns the
// process and its responses; the test stops it.
func startProc(t *testing.T, cfg host.LaunchConfig) (*host.Process, <-chan wire.Response) {
	t.Helper()
	got := make(chan wire.Response, 100)
	cfg.Name, cfg.SocketDir = "worker-0", t.TempDir()
	cfg.OnResponses = func(rs []wire.Response) {
		for _, r := range rs {
			got <- r
		}
	}
	p, err := host.Launch(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, got
}

// callProc runs method on p and decodes its result into out.
func callProc(t *testing.T, p *host.Process, got <-chan wire.Response, out any, method string, args ...any) {
	t.Helper()
	send(p.Conn(), &wire.Request{ID: 1, Method: method, Args: jsonArgs(args...)})
	r := receive(t, got, 5*time.Second)
	if r.Failed() {
		t.Fatalf("%s failed in the worker", method)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			t.Fatal(err)
		}
	}
}

// nothingLeft checks that the descriptors are those of before, at once,
// and that no goroutine but those of before is left.
func nothingLeft(t *testing.T, fds int, goroutines goleak.Option) {
	t.Helper()
	// Fewer than before is no leak: a descriptor of an earlier test may
	// close while this one runs.
	if !testutil.WaitFor(5*time.Second, func() bool { return testutil.OpenFDs(t) <= fds }) {
		t.Errorf("%d descriptors open, %d before", testutil.OpenFDs(t), fds)
	}
	goleak.VerifyNone(t, goroutines)
}

// Stop returns within its grace plus a twentieth, and leaves nothing
// behind: for a worker that ignores SIGTERM, a frozen one, and one whose
// grandchild, out of its process group, holds its pipes.
func TestStopBounds(t *testing.T) {
	const grace = 300 * time.Millisecond
	// The slack beyond Stop's own bound is for a machine loaded by other
	// test packages under -race.
	const bound = grace + grace/20 + 200*time.Millisecond
	cases := []struct {
		name string
		prep func(t *testing.T, p *host.Process, got <-chan wire.Response)
	}{
		{"stubborn", func(t *testing.T, p *host.Process, got <-chan wire.Response) {
			callProc(t, p, got, nil, "stubborn")
		}},
		{"stopped", func(t *testing.T, p *host.Process, got <-chan wire.Response) {
			testutil.Freeze(t, p.PID())
		}},
		{"detached grandchild", func(t *testing.T, p *host.Process, got <-chan wire.Response) {
			var gc int
			callProc(t, p, got, &gc, "spawnDetached")
			t.Cleanup(func() { _ = syscall.Kill(gc, syscall.SIGKILL) })
			callProc(t, p, got, nil, "stubborn")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fds, goroutines := testutil.OpenFDs(t), goleak.IgnoreCurrent()
			p, got := startProc(t, host.LaunchConfig{Path: workerBin})
			c.prep(t, p, got)
			start := time.Now()
			p.Stop(grace)
			if d := time.Since(start); d < grace || d > bound {
				t.Errorf("Stop(%v) took %v, want between %v and %v", grace, d, grace, bound)
			}
			if testutil.Alive(p.PID()) {
				t.Errorf("worker %d alive after Stop", p.PID())
			}
			nothingLeft(t, fds, goroutines)
		})
	}
}

// A start that fails leaves no goroutine and no descriptor when Launch
// returns.
func TestFailedStartLeavesNothing(t *testing.T) {
	bin := testutil.MustBuild(t, "./internal/testutil/fixtures/notworker")
	fds, goroutines := testutil.OpenFDs(t), goleak.IgnoreCurrent()
	_, err := host.Launch(context.Background(), host.LaunchConfig{
		Path: bin, Args: []string{"exit"}, Name: "worker-0", SocketDir: t.TempDir(),
	})
	if err == nil {
		t.Fatal("a program that is not a worker started")
	}
	nothingLeft(t, fds, goroutines)
}

// When a worker ends, what it left in its process group is killed before
// the worker is reaped, while its pid is still its group's: not later
// through a pid that may be someone else's.
func TestExitKillsGroupBeforeReap(t *testing.T) {
	p, got := startProc(t, host.LaunchConfig{Path: workerBin})
	defer p.Stop(time.Second)
	var gc int
	callProc(t, p, got, &gc, "spawn")
	if !testutil.Alive(gc) {
		t.Fatalf("grandchild %d not running", gc)
	}
	send(p.Conn(), &wire.Request{ID: 2, Method: "exit", Args: jsonArgs(3)})
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not exit")
	}
	testutil.Eventually(t, time.Second, "the grandchild's end", func() bool { return !testutil.Alive(gc) })
}

// OnStart's kill ends the process being started; it is harmless once the
// process has ended.
func TestOnStartKill(t *testing.T) {
	kills := make(chan func(), 1)
	_, err := host.Launch(context.Background(), host.LaunchConfig{
		Path: testutil.MustBuild(t, "./internal/testutil/fixtures/notworker"), Name: "worker-0", SocketDir: t.TempDir(),
		OnStart: func(pid int, kill func()) bool {
			kills <- kill
			kill()
			return true
		},
	})
	if err == nil {
		t.Fatal("a killed process started")
	}
	(<-kills)() // after its end: no effect
}

// A host that ignores SIGCHLD has its children reaped by the kernel: the
// stop of a worker still kills what it left in its group, and its exit
// status says it is unknown instead of crashing the host.
// It runs in a child process of the test: ignoring SIGCHLD cannot be
// undone for the rest of a test binary.
func TestWorkerReapedByOthers(t *testing.T) {
	if os.Getenv("WORKESTRATOR_TEST_SIGCHLD_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerReapedByOthers$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "WORKESTRATOR_TEST_SIGCHLD_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestWorkerReapedByOthers") {
			t.Fatalf("child test: %v\n%s", err, out)
		}
		return
	}
	signal.Ignore(syscall.SIGCHLD)
	p, got := startProc(t, host.LaunchConfig{Path: workerBin, KillTimeout: 300 * time.Millisecond})
	var gc int
	callProc(t, p, got, &gc, "spawn")
	p.Stop(300 * time.Millisecond)
	if st := p.ExitStatus(); st.Code != -1 {
		t.Errorf("exit status %+v, want code -1 (unknown)", st)
	}
	testutil.Eventually(t, 5*time.Second, "the worker's grandchild killed", func() bool { return !testutil.Alive(gc) })
}
