package farm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

func TestTimeoutHonouredKeepsWorker(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Timeout: 50 * time.Millisecond, MaxRetries: farm.NoRetries})
	pid := workerPIDs(f)[0]
	_, err := f.RunMethod(ctx(t), "sleep", 5000)
	var te *farm.TimeoutError
	if !errors.Is(err, farm.ErrTimeout) || !errors.As(err, &te) || te.PID != pid {
		t.Fatalf("err = %v", err)
	}
	// The function returned on its cancelled context: same worker, free again.
	testutil.Eventually(t, 5*time.Second, "the abandoned call to end", func() bool {
		st := f.Stats()
		return len(st.Workers) == 1 && st.Workers[0].InFlight == 0
	})
	if got, err := farm.Call[int](ctx(t), f, "pid"); err != nil || got != pid {
		t.Fatalf("worker after timeout: pid %d (was %d), %v", got, pid, err)
	}
}

func TestTimeoutIgnoredRecyclesWorker(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Timeout: 50 * time.Millisecond, KillTimeout: 100 * time.Millisecond, MaxRetries: 1})
	pid := workerPIDs(f)[0]
	start := time.Now()
	_, err := f.RunMethod(ctx(t), "block")
	var mr *farm.MaxRetriesError
	if !errors.Is(err, farm.ErrTimeout) || !errors.As(err, &mr) || mr.Attempts != 2 {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("two 50ms attempts took %v", d)
	}
	testutil.Eventually(t, 5*time.Second, "the hung worker to be killed", func() bool { return !testutil.Alive(pid) })
	// Capacity comes back: a fresh worker answers.
	got, err := farm.Call[int](ctx(t), f, "pid")
	if err != nil || got == pid {
		t.Fatalf("after recycling: pid %d (hung %d), %v", got, pid, err)
	}
	if st := f.Stats(); st.TimedOut != 2 || st.WorkersHung == 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// A worker stopped for ignoring a cancel cancels the other calls it runs
// as it stops: they are retried elsewhere, not answered with the
// cancellation that the farm's stop caused.
func TestHungWorkerStopRetriesItsOtherCalls(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 2, KillTimeout: 100 * time.Millisecond})
	pid := workerPIDs(f)[0]
	marker := filepath.Join(t.TempDir(), "marker")
	other := farm.GoCall[int](ctx(t), f, "waitFirst", marker)
	testutil.Eventually(t, 5*time.Second, "the other call running", func() bool { _, err := os.Stat(marker); return err == nil })
	_, err := f.With(farm.CallOptions{Timeout: 50 * time.Millisecond, MaxRetries: farm.NoRetries}).RunMethod(ctx(t), "block")
	if !errors.Is(err, farm.ErrTimeout) {
		t.Fatalf("the blocked call: %v, want a timeout", err)
	}
	got, err := other.Wait(ctx(t))
	if err != nil || got == pid || got <= 0 {
		t.Fatalf("the other call: pid %d (hung worker %d), %v; want it retried on a new worker", got, pid, err)
	}
	if st := f.Stats(); st.WorkersHung != 1 || st.Retried != 1 {
		t.Errorf("WorkersHung %d, Retried %d; want 1, 1", st.WorkersHung, st.Retried)
	}
}

func TestContextCancelWhileQueued(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1})
	blocker := f.Go(ctx(t), "sleep", 300)
	c, cancel := context.WithCancel(context.Background())
	fu := f.Go(c, "add", 1, 2, 3)
	cancel()
	if _, err := fu.Wait(ctx(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued call: %v", err)
	}
	if _, err := blocker.Result(); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Queued != 0 || st.Retried != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestContextDeadlineWhileRunning(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	pid := workerPIDs(f)[0]
	c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.RunMethod(c, "sleep", 5000)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancellation took %v", d)
	}
	testutil.Eventually(t, 5*time.Second, "the cancelled call to end in the worker", func() bool {
		return f.Stats().Workers[0].InFlight == 0
	})
	if st := f.Stats(); st.Retried != 0 || st.Workers[0].PID != pid {
		t.Fatalf("stats = %+v", st)
	}
}

func TestWorkerExitRetried(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	marker := filepath.Join(t.TempDir(), "marker")
	pid, err := farm.Call[int](ctx(t), f, "flaky", marker)
	if err != nil {
		t.Fatal(err)
	}
	if pid <= 0 {
		t.Fatalf("pid = %d", pid)
	}
	testutil.Eventually(t, 5*time.Second, "the slot refilled", func() bool {
		st := f.Stats()
		return len(st.Workers) == 2 && st.WorkersCrashed == 1
	})
}

func TestWorkerExitNoRetries(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxRetries: farm.NoRetries})
	other := f.Go(ctx(t), "sleep", 200) // on the other worker: untouched
	_, err := f.RunMethod(ctx(t), "exit", 7)
	var we *farm.WorkerExitError
	if !errors.As(err, &we) || !errors.Is(err, farm.ErrWorkerTerminated) || we.Status.Code != 7 {
		t.Fatalf("err = %v", err)
	}
	if _, err := other.Result(); err != nil {
		t.Fatalf("the other worker's call: %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "a replacement", func() bool { return len(f.Stats().Workers) == 2 })
}

func TestWorkerKilledFromOutside(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries})
	pid := workerPIDs(f)[0]
	fu := f.Go(ctx(t), "block")
	testutil.Eventually(t, 5*time.Second, "call running", func() bool { return f.Stats().InFlight == 1 })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err := fu.Wait(ctx(t))
	var we *farm.WorkerExitError
	if !errors.As(err, &we) || we.Status.Signal != "killed" || we.PID != pid {
		t.Fatalf("err = %v", err)
	}
	got, err := farm.Call[int](ctx(t), f, "pid")
	if err != nil || got == pid {
		t.Fatalf("replacement: %d, %v", got, err)
	}
}

func TestCrashRetriedOnReplacement(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: 2})
	_, err := f.RunMethod(ctx(t), "exit", 1)
	var mr *farm.MaxRetriesError
	if !errors.As(err, &mr) || mr.Attempts != 3 || !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("err = %v", err)
	}
	if st := f.Stats(); st.WorkersCrashed != 3 {
		t.Fatalf("crashed = %d", st.WorkersCrashed)
	}
}

func TestTTLRecycles(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, TTL: 5})
	pids := map[int]int{}
	for range 12 {
		pid, err := farm.Call[int](ctx(t), f, "pid")
		if err != nil {
			t.Fatal(err)
		}
		pids[pid]++
	}
	if len(pids) != 3 {
		t.Fatalf("pids = %v, want 3 workers for 12 calls with TTL 5", pids)
	}
	for pid, n := range pids {
		if n > 5 {
			t.Fatalf("worker %d took %d calls", pid, n)
		}
	}
}

func TestTTLNoCallLost(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, TTL: 10, MaxConcurrentCallsPerWorker: 4})
	var futures []*farm.Future
	for i := range 300 {
		futures = append(futures, f.Go(ctx(t), "add", i, 0, 0))
	}
	for i, fu := range futures {
		r, err := fu.Result()
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := r.Decode(&n); err != nil || n != i {
			t.Fatalf("call %d = %d, %v", i, n, err)
		}
	}
	if st := f.Stats(); st.WorkersRecycled < 20 || st.Retried != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestIdleRecycles(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxIdleTime: 50 * time.Millisecond})
	pid := workerPIDs(f)[0]
	testutil.Eventually(t, 5*time.Second, "the idle worker to be replaced", func() bool {
		ws := workerPIDs(f)
		return len(ws) == 1 && ws[0] != pid && !testutil.Alive(pid)
	})
	if _, err := farm.Call[int](ctx(t), f, "pid"); err != nil {
		t.Fatal(err)
	}
}

func TestStopStubbornWorker(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 100 * time.Millisecond})
	pid, err := farm.Call[int](ctx(t), f, "stubborn")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Kill of a worker ignoring SIGTERM took %v", d)
	}
	if testutil.Alive(pid) {
		t.Fatal("worker alive")
	}
}

func TestStopFrozenWorker(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 100 * time.Millisecond})
	pid := workerPIDs(f)[0]
	testutil.Freeze(t, pid)
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Kill of a SIGSTOPped worker took %v", d)
	}
	if testutil.Alive(pid) {
		t.Fatal("worker alive")
	}
}

func TestStopWorkerWithGrandchild(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 100 * time.Millisecond})
	child, err := farm.Call[int](ctx(t), f, "spawn")
	if err != nil {
		t.Fatal(err)
	}
	pid := workerPIDs(f)[0]
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Kill of a worker whose child holds its pipes took %v", d)
	}
	if testutil.Alive(pid) {
		t.Fatalf("worker %d left alive", pid)
	}
	// The grandchild got its SIGKILL before Kill returned, but it is not
	// ours to reap: its pipes may close while it is still in its exit,
	// before /proc shows it a zombie.
	testutil.Eventually(t, time.Second, "the grandchild dead", func() bool { return !testutil.Alive(child) })
}

func TestGrandchildHoldingPipesAfterCrash(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries})
	if _, err := farm.Call[int](ctx(t), f, "spawn"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := f.RunMethod(ctx(t), "exit", 5)
	if !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("death seen after %v", d)
	}
	if _, err := farm.Call[int](ctx(t), f, "pid"); err != nil {
		t.Fatal(err)
	}
}

func TestTTLStandbyStartsEarly(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, TTL: 20})
	first := workerPIDs(f)[0]
	for range 16 { // past TTL-TTL/4 = 15 calls
		if _, err := farm.Call[int](ctx(t), f, "pid"); err != nil {
			t.Fatal(err)
		}
	}
	var standby int
	testutil.Eventually(t, 5*time.Second, "a standby worker", func() bool {
		for _, w := range f.Stats().Workers {
			if w.State == "standby" {
				standby = w.PID
				return true
			}
		}
		return false
	})
	// The standby takes over at the TTL, with no start in between.
	pids := map[int]int{}
	for range 10 {
		pid, err := farm.Call[int](ctx(t), f, "pid")
		if err != nil {
			t.Fatal(err)
		}
		pids[pid]++
	}
	if pids[first] != 4 || pids[standby] != 6 {
		t.Fatalf("calls per worker after the standby started: %v (first %d, standby %d)", pids, first, standby)
	}
	if st := f.Stats(); st.WorkersStarted < 2 || st.WorkersRecycled != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestPoisonCallIsolated(t *testing.T) {
	// A call that kills its worker on every attempt: the calls that shared
	// its worker are retried apart from it and succeed.
	f := newFarm(t, farm.Config{Workers: 2, MaxRetries: 3, MaxConcurrentCallsPerWorker: 8})
	var innocents []*farm.Future
	for range 6 {
		innocents = append(innocents, f.Go(ctx(t), "sleep", 100))
	}
	poison := f.Go(ctx(t), "exit", 9)
	for range 6 {
		innocents = append(innocents, f.Go(ctx(t), "sleep", 100))
	}
	var mr *farm.MaxRetriesError
	if _, err := poison.Result(); !errors.As(err, &mr) || mr.Attempts != 4 || !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("poison: %v", err)
	}
	for i, fu := range innocents {
		if _, err := fu.Result(); err != nil {
			t.Errorf("innocent %d: %v", i, err)
		}
	}
}

func TestStartFailuresFailWaitingCalls(t *testing.T) {
	// A worker binary that is replaced by a program that is not a worker:
	// once the worker dies, its slot cannot be refilled.
	bin := filepath.Join(t.TempDir(), "worker")
	copyFile(t, workerBin, bin)
	f := newFarm(t, farm.Config{Path: bin, Workers: 1, MaxRetries: farm.NoRetries})
	copyFile(t, "/bin/true", bin)
	if _, err := f.RunMethod(ctx(t), "exit", 1); !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("exit: %v", err)
	}
	start := time.Now()
	_, err := f.RunMethod(ctx(t), "add", 1, 2, 3)
	var se *farm.StartError
	if !errors.As(err, &se) || !errors.Is(err, farm.ErrWorkerStart) || !errors.Is(err, farm.ErrNotWorker) {
		t.Fatalf("queued call: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the start error took %v", d)
	}
	// Restarts back off rather than spin.
	testutil.Eventually(t, 5*time.Second, "a few failed starts", func() bool { return f.Stats().StartFailures >= 3 })
	n := f.Stats().StartFailures
	if n > 8 {
		t.Fatalf("%d failed starts: no backoff", n)
	}
}

func TestSocketDirectoryPrivate(t *testing.T) {
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "workestrator-"+strconv.Itoa(os.Getpid())+"-*"))
	f := newFarm(t, farm.Config{Workers: 1})
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "workestrator-"+strconv.Itoa(os.Getpid())+"-*"))
	var mine []string
	for _, d := range after {
		if !slices.Contains(before, d) {
			mine = append(mine, d)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("new socket directories: %v", mine)
	}
	st, err := os.Stat(mine[0])
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory %s: %v, %v", mine[0], st.Mode(), err)
	}
	f.Kill()
	if _, err := os.Stat(mine[0]); !os.IsNotExist(err) {
		t.Fatalf("socket directory left after Kill: %v", err)
	}
}

func TestAutoMTLS(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, AutoMTLS: true})
	if n, err := farm.Call[int](ctx(t), f, "add", 1, 2, 3); err != nil || n != 6 {
		t.Fatalf("add over mTLS = %d, %v", n, err)
	}
	futures := make([]*farm.Future, 200)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "add", i, 0, 0)
	}
	for i, fu := range futures {
		r, err := fu.Result()
		var n int
		if err != nil || r.Decode(&n) != nil || n != i {
			t.Fatalf("call %d: %d, %v", i, n, err)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

func TestWorkerFloodingItsOutput(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Logger: hclog.NewNullLogger()})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pid, err := farm.Call[int](ctx(t), f, "flood", 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	// The worker keeps serving, and the host did not keep the flood.
	if got, err := farm.Call[int](ctx(t), f, "add", 1, 2, 3); err != nil || got != 6 {
		t.Fatalf("after the flood: %d, %v", got, err)
	}
	if workerPIDs(f)[0] != pid {
		t.Fatal("the flooding worker was replaced")
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Fatalf("host heap grew by %d MiB", grew>>20)
	}
}

// The cancel of a call reaches a function that computes without a system
// call in a worker of one P (the farm's default GOMAXPROCS=1): it returns,
// and its worker serves the next call instead of being recycled as hung,
// both for a call that comes at once and for one after the worker has
// been quiet long enough to slow its timer.
func TestCancelReachesComputingFunction(t *testing.T) {
	for _, quiet := range []time.Duration{0, 600 * time.Millisecond} {
		t.Run(fmt.Sprintf("after-%v", quiet), func(t *testing.T) {
			cancelReachesComputingFunction(t, quiet)
		})
	}
}

func cancelReachesComputingFunction(t *testing.T, quiet time.Duration) {
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 2 * time.Second})
	pid := workerPIDs(f)[0]
	if quiet > 0 {
		// The scenario is a worker without calls for a while, not a wait
		// for an event.
		<-time.After(quiet)
	}
	cctx, cancel := context.WithTimeout(ctx(t), 100*time.Millisecond)
	defer cancel()
	if _, err := f.RunMethod(cctx, "compute"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	testutil.Eventually(t, time.Second, "the cancelled function's return", func() bool {
		ws := f.Stats().Workers
		return len(ws) == 1 && ws[0].PID == pid && ws[0].Abandoned == 0
	})
	if got, err := farm.Call[int](ctx(t), f, "pid"); err != nil || got != pid {
		t.Fatalf("next call: pid %d (want %d), %v", got, pid, err)
	}
	if st := f.Stats(); st.WorkersHung != 0 || st.WorkersRecycled != 0 {
		t.Fatalf("hung %d, recycled %d", st.WorkersHung, st.WorkersRecycled)
	}
}

// A worker whose death the farm has seen takes no new call, not even while
// its process is being stopped, which lasts KillTimeout when a grandchild
// holds its pipes.
func TestNoCallAfterDisconnect(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "pipes-held"}[held], func(t *testing.T) {
			gone := make(chan int, 16)
			f := newFarm(t, farm.Config{Workers: 2, MaxRetries: farm.NoRetries, KillTimeout: 2 * time.Second,
				OnEvent: func(e farm.Event) {
					if e.Type == farm.EventDisconnect {
						gone <- e.PID
					}
				}})
			var dead int
			for _, w := range f.Stats().Workers {
				if w.Slot == 0 {
					dead = w.PID
				}
			}
			if held {
				// The lowest slot's worker, idle, takes it.
				gc, err := farm.Call[int](ctx(t), f, "spawnDetached")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { syscall.Kill(gc, syscall.SIGKILL) })
			}
			if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case pid := <-gone:
				if pid != dead {
					t.Fatalf("disconnect of pid %d, want %d", pid, dead)
				}
			case <-ctx(t).Done():
				t.Fatal("no disconnect event")
			}
			for i := range 3 {
				pid, err := farm.Call[int](ctx(t), f, "pid")
				if err != nil || pid == dead {
					t.Fatalf("call %d after the disconnect: pid %d (the dead one %d), %v", i, pid, dead, err)
				}
			}
		})
	}
}

// The calls of a worker that died are retried at once, not once its
// process is cleaned up, which lasts KillTimeout when a grandchild holds
// its pipes.
func TestCallsOfDeadWorkerRetriedAtOnce(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, KillTimeout: 5 * time.Second})
	var dead int
	for _, w := range f.Stats().Workers {
		if w.Slot == 0 {
			dead = w.PID
		}
	}
	gc, err := farm.Call[int](ctx(t), f, "spawnDetached") // on the idle lowest slot
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(gc, syscall.SIGKILL) })
	fu := f.Go(ctx(t), "sleep", 200) // slot 0 again
	testutil.Eventually(t, 5*time.Second, "the call running on slot 0", func() bool {
		return f.Stats().InFlight == 1
	})
	killed := time.Now()
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res, err := fu.Result()
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := res.Decode(&pid); err != nil || pid == dead {
		t.Fatalf("retried call: pid %d (the dead one %d), %v", pid, dead, err)
	}
	// A 200 ms call on the other worker, answered long before the dead
	// one's KillTimeout is over.
	if d := time.Since(killed); d > 2*time.Second {
		t.Fatalf("the retried call was answered %v after the death: it waited for the cleanup", d)
	}
}
