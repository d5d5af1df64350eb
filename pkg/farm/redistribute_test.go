package farm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// The tests of what happens to the calls of a worker that dies: they are
// redistributed at once, concurrently; only a call that was in flight at
// two deaths runs alone; and nothing that was held for such a call
// outlives it.

// inFlightOn waits until the worker of slot has n calls in flight and
// returns its pid.
func inFlightOn(t *testing.T, f *farm.Farm, slot, n int) int {
	t.Helper()
	pid := 0
	testutil.Eventually(t, 10*time.Second, "calls in flight", func() bool {
		for _, w := range f.Stats().Workers {
			if w.Slot == slot && w.State == "online" && w.InFlight == n {
				pid = w.PID
				return true
			}
		}
		return false
	})
	return pid
}

// broadcastWithin runs a broadcast on a context without deadline, as a
// user would, and fails t if it does not return within bound.
func broadcastWithin(t *testing.T, f *farm.Farm, bound time.Duration) []farm.WorkerReply {
	t.Helper()
	type answer struct {
		replies []farm.WorkerReply
		err     error
	}
	done, exited := make(chan answer, 1), make(chan struct{})
	go func() {
		defer close(exited)
		r, err := f.BroadcastMethod(context.Background(), "pid")
		done <- answer{r, err}
	}()
	t.Cleanup(func() { f.Kill(); <-exited }) // Kill ends a stuck broadcast
	select {
	case a := <-done:
		if a.err != nil {
			t.Fatalf("broadcast: %v", a.err)
		}
		return a.replies
	case <-time.After(bound):
		t.Fatalf("a broadcast on a background context did not return within %v (stats %+v)", bound, f.Stats())
		return nil
	}
}

// A worker that was busy when another died keeps taking calls once the
// dead worker's call has been retried, wherever the retry ran.
func TestHealthyWorkerNotStrandedAfterCrashRetry(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	long := f.Go(ctx(t), "sleep", 1500) // slot 0
	busy := inFlightOn(t, f, 0, 1)
	marker := filepath.Join(t.TempDir(), "flaky")
	if _, err := farm.Call[int](ctx(t), f, "flaky", marker); err != nil { // dies on slot 1, then succeeds
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "slot 1 refilled", func() bool { return len(f.Stats().Workers) == 2 })
	a, b := f.Go(ctx(t), "sleep", 300), f.Go(ctx(t), "sleep", 300)
	pa, errA := futureInt(a)
	pb, errB := futureInt(b)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if pa == pb {
		t.Errorf("two concurrent calls both ran on pid %d; the worker of slot 0 (pid %d) took neither", pa, busy)
	}
	replies := broadcastWithin(t, f, 10*time.Second)
	if len(replies) != 2 || replies[0].PID != busy {
		t.Errorf("broadcast replies = %+v, want slot 0 answered by pid %d", replies, busy)
	}
	if _, err := long.Result(); err != nil {
		t.Fatal(err)
	}
}

// The calls of a worker killed from outside run concurrently on its
// replacement, as they did on the worker: each of the two calls here
// returns only once both are in the same worker at the same time.
func TestDeadWorkersCallsRedistributedConcurrently(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	marker := filepath.Join(t.TempDir(), "first")
	a := f.Go(ctx(t), "together", 2, marker)
	b := f.Go(ctx(t), "together", 2, marker)
	pid := inFlightOn(t, f, 0, 2)
	testutil.Eventually(t, 10*time.Second, "the first worker running the calls", func() bool {
		b, _ := os.ReadFile(marker)
		return len(b) > 0
	})
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, fu := range []*farm.Future{a, b} {
		got, err := futureInt(fu)
		if err != nil {
			t.Fatalf("a call of the killed worker: %v (the calls ran one after the other?); stats %+v", err, f.Stats())
		}
		if got == pid {
			t.Fatalf("answered by the killed worker %d", pid)
		}
	}
	if st := f.Stats(); st.Retried != 2 || st.WorkersCrashed != 1 {
		t.Fatalf("stats: retried %d, crashed %d", st.Retried, st.WorkersCrashed)
	}
}

// slowRestarts returns a farm config whose workers started after the
// returned function is called take seconds to come online, so that the
// workers already online are the only ones for a while.
func slowRestarts(t *testing.T, cfg farm.Config) (farm.Config, func()) {
	marker := filepath.Join(t.TempDir(), "slow")
	cfg.Env = append(cfg.Env, "FIXTURE_SLOW_START_IF="+marker)
	return cfg, func() {
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// messages records the method of each call answered, in order.
type messages struct {
	mu      sync.Mutex
	methods []string
}

func (m *messages) listen(ev farm.Event) {
	if ev.Type == farm.EventMessage {
		m.mu.Lock()
		m.methods = append(m.methods, ev.Method)
		m.mu.Unlock()
	}
}

func (m *messages) order() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.methods...)
}

// A call that was in flight at two deaths runs alone: the busy worker left
// finishes its calls and takes no queued call until it has run it.
func TestCallAtTwoCrashesRunsAlone(t *testing.T) {
	var msgs messages
	cfg, slow := slowRestarts(t, farm.Config{Workers: 3, OnEvent: msgs.listen})
	f := newFarm(t, cfg)
	x := f.Go(ctx(t), "sleep", 1500) // slot 0, busy until after the two crashes
	survivor := inFlightOn(t, f, 0, 1)
	slow()
	// Dies on slot 1, is retried on slot 2 at once and dies there too.
	poison := f.Go(ctx(t), "crashTimes", filepath.Join(t.TempDir(), "crashes"), 2)
	testutil.Eventually(t, 5*time.Second, "two crashes", func() bool { return f.Stats().WorkersCrashed == 2 })
	y := f.Go(ctx(t), "pid") // queued behind the call that must run alone
	if pid, err := futureInt(poison); err != nil || pid != survivor {
		t.Fatalf("the twice-crashed call: pid %d, %v; want it run on the surviving worker %d", pid, err, survivor)
	}
	if pid, err := futureInt(y); err != nil || pid != survivor {
		t.Fatalf("queued call: pid %d, %v", pid, err)
	}
	if _, err := x.Result(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "three answers", func() bool { return len(msgs.order()) == 3 })
	if got := msgs.order(); got[0] != "sleep" || got[1] != "crashTimes" || got[2] != "pid" {
		t.Fatalf("answers in order %v, want sleep, crashTimes (alone), pid", got)
	}
}

// A call waiting to run alone that leaves (here, its caller gives up)
// holds nothing: the worker kept for it takes queued calls at once.
func TestLeavingIsolatedCallReleasesItsWorker(t *testing.T) {
	cfg, slow := slowRestarts(t, farm.Config{Workers: 3})
	f := newFarm(t, cfg)
	xctx, xcancel := context.WithCancel(ctx(t))
	defer xcancel()
	x := f.Go(xctx, "sleep", 20_000) // slot 0, busy for the whole test
	survivor := inFlightOn(t, f, 0, 1)
	slow()
	pctx, cancel := context.WithCancel(ctx(t))
	poison := f.Go(pctx, "exit", 3)
	testutil.Eventually(t, 5*time.Second, "two crashes", func() bool { return f.Stats().WorkersCrashed == 2 })
	y := f.Go(ctx(t), "pid")
	cancel()
	if _, err := poison.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	// The replacements take seconds to start: only the kept worker can
	// answer this soon.
	yctx, ycancel := context.WithTimeout(ctx(t), 2*time.Second)
	defer ycancel()
	r, err := y.Wait(yctx)
	if err != nil {
		t.Fatalf("queued call after the isolated call left: %v (stats %+v)", err, f.Stats())
	}
	var pid int
	if err := r.Decode(&pid); err != nil || pid != survivor {
		t.Fatalf("queued call ran on %d, %v; want the kept worker %d", pid, err, survivor)
	}
	xcancel()
	if _, err := x.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("long call: %v", err)
	}
}

// futureInt waits for fu and decodes its int result.
func futureInt(fu *farm.Future) (int, error) {
	r, err := fu.Result()
	if err != nil {
		return 0, err
	}
	var n int
	err = r.Decode(&n)
	return n, err
}

// Calls refused by MaxConcurrentCalls while others finish: the refusal's
// message reads the farm's count under its lock. Only the race detector
// (go test -race, as CI runs it) sees the difference.
func TestRefusalsWhileCallsFinish(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCalls: 3})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				_, err := f.RunMethod(ctx(t), "add", g, i, 0)
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, farm.ErrMaxConcurrentCalls):
					refused++
				default:
					t.Errorf("call: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok == 0 || refused == 0 {
		t.Fatalf("%d calls answered, %d refused: want both", ok, refused)
	}
}
