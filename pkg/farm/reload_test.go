package farm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// workerCopy copies the fixture worker to a path of its own, before any
// farm of the test forks (a file being written cannot be executed).
func workerCopy(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	copyFile(t, workerBin, p)
	return p
}

// exes returns the executables that n calls of exe, in flight together,
// ran in.
func exes(t *testing.T, f *farm.Farm, n int) map[string]int {
	t.Helper()
	var futures []*farm.Future
	for range n {
		futures = append(futures, f.Go(ctx(t), "exe"))
	}
	got := map[string]int{}
	for _, fu := range futures {
		var exe string
		if r, err := fu.Result(); err != nil || r.Decode(&exe) != nil {
			t.Fatalf("exe: %v", err)
		}
		got[exe]++
	}
	return got
}

// eventLog collects a farm's events.
type eventLog struct {
	mu  sync.Mutex
	evs []farm.Event
}

func (l *eventLog) add(ev farm.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) count(match func(farm.Event) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if match(ev) {
			n++
		}
	}
	return n
}

func TestReloadUnderLoad(t *testing.T) {
	const workers = 3
	v2 := workerCopy(t, "worker-v2")
	var log eventLog
	f := newFarm(t, farm.Config{Workers: workers, MaxConcurrentCallsPerWorker: 4, Init: stateInit, OnEvent: log.add})
	old := workerPIDs(f)

	// Hundreds of calls in flight and queued when the reload starts, and
	// more submitted while it runs.
	var mu sync.Mutex
	var futures []*farm.Future
	submit := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		for range n {
			futures = append(futures, f.Go(ctx(t), "sleep", 2))
		}
	}
	submit(500)
	reloaded := make(chan error, 1)
	go func() { reloaded <- f.Reload(ctx(t), v2) }()

	// Broadcasts while the reload runs: each reaches each slot once.
	broadcasts := 0
	var err error
	for done := false; !done; {
		select {
		case err = <-reloaded:
			done = true
		default:
			submit(20)
			replies, berr := f.BroadcastMethod(ctx(t), "cwd")
			if berr != nil || len(replies) != workers {
				t.Fatalf("broadcast during reload: %d replies, %v", len(replies), berr)
			}
			for i, r := range replies {
				if r.Slot != i || r.Err != nil {
					t.Fatalf("broadcast reply %d: %+v", i, r)
				}
			}
			broadcasts++
		}
	}
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if broadcasts == 0 {
		t.Fatal("no broadcast ran during the reload")
	}
	mu.Lock()
	for i, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatalf("call %d of %d failed: %v", i, len(futures), err)
		}
	}
	n := len(futures)
	mu.Unlock()
	if st := f.Stats(); st.Retried != 0 || st.Failed != 0 || st.Refused != 0 {
		t.Fatalf("stats after %d calls: %+v", n, st)
	}
	// Every slot now runs the new binary, with its Init's state; the old
	// workers are gone.
	if got := exes(t, f, 4*workers); len(got) != 1 || got[v2] == 0 {
		t.Fatalf("exe after reload = %v, want only %s", got, v2)
	}
	for pid := range checkState(t, f, 4*workers) {
		if slices.Contains(old, pid) {
			t.Fatalf("old worker %d still answers", pid)
		}
	}
	for _, pid := range old {
		testutil.Eventually(t, 5*time.Second, "the old worker's exit", func() bool { return !testutil.Alive(pid) })
	}
	testutil.Eventually(t, 5*time.Second, "the events", func() bool {
		return log.count(func(ev farm.Event) bool { return ev.Type == farm.EventReload }) == workers
	})
	for slot := range workers {
		if got := log.count(func(ev farm.Event) bool {
			return ev.Type == farm.EventMessage && ev.Method == "cwd" && ev.Slot == slot
		}); got != broadcasts {
			t.Fatalf("slot %d answered %d broadcast calls of %d", slot, got, broadcasts)
		}
	}
	t.Logf("%d calls and %d broadcasts during the reload", n, broadcasts)
}

func TestReloadThenRecycleUsesNewBinary(t *testing.T) {
	v2 := workerCopy(t, "worker-v2")
	f := newFarm(t, farm.Config{Workers: 1, TTL: 3, Init: stateInit})
	if err := f.Reload(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	pids := map[int]bool{}
	for range 5 {
		if got := exes(t, f, 2); got[v2] != 2 {
			t.Fatalf("exe = %v, want %s", got, v2)
		}
		for pid := range checkState(t, f, 2) {
			pids[pid] = true
		}
	}
	if len(pids) < 3 {
		t.Fatalf("%d workers for 20 calls with TTL 3", len(pids))
	}
}

func TestReloadRelativePath(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, workerBin, filepath.Join(dir, "worker-v2"))
	f := newFarm(t, farm.Config{Workers: 1, Dir: dir})
	if err := f.Reload(ctx(t), "worker-v2"); err != nil {
		t.Fatal(err)
	}
	if got := exes(t, f, 1); got[filepath.Join(dir, "worker-v2")] != 1 {
		t.Fatalf("exe = %v", got)
	}
}

func TestReloadFailsKeepsOldWorkers(t *testing.T) {
	lean := testutil.MustBuild(t, "./internal/testutil/fixtures/lean")
	notWorker := testutil.MustBuild(t, "./internal/testutil/fixtures/notworker")
	cases := []struct {
		name, path string
		is         error
	}{
		{"not a worker", notWorker, farm.ErrNotWorker},
		{"lacks methods", lean, farm.ErrMissingMethod},
		{"missing file", filepath.Join(t.TempDir(), "nothing"), os.ErrNotExist},
	}
	f := newFarm(t, farm.Config{Workers: 2, Init: stateInit, StartTimeout: 2 * time.Second})
	old := workerPIDs(f)
	for _, tc := range cases {
		// Calls keep running on the old workers meanwhile.
		var futures []*farm.Future
		for range 50 {
			futures = append(futures, f.Go(ctx(t), "sleep", 1))
		}
		err := f.Reload(ctx(t), tc.path)
		var re *farm.ReloadError
		if !errors.As(err, &re) || re.Slot != 0 || !errors.Is(err, farm.ErrWorkerStart) || !errors.Is(err, tc.is) {
			t.Fatalf("%s: Reload = %v; want a *ReloadError at slot 0 matching ErrWorkerStart and %v", tc.name, err, tc.is)
		}
		for _, fu := range futures {
			if _, err := fu.Result(); err != nil {
				t.Fatalf("%s: call during the failed reload: %v", tc.name, err)
			}
		}
		if got := workerPIDs(f); !slices.Equal(got, old) {
			t.Fatalf("%s: workers %v after the failed reload, want %v", tc.name, got, old)
		}
		if got := exes(t, f, 4); got[workerBin] != 4 {
			t.Fatalf("%s: exe = %v", tc.name, got)
		}
		checkState(t, f, 4)
		testutil.Eventually(t, 5*time.Second, "no process but the workers", func() bool {
			return len(testutil.Children(os.Getpid())) == 2
		})
	}
	// Later replacements still use the old binary.
	pid := old[0]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a replacement", func() bool {
		p := workerPIDs(f)
		return len(p) == 2 && !slices.Contains(p, pid)
	})
	if got := exes(t, f, 4); got[workerBin] != 4 {
		t.Fatalf("exe after a crash = %v", got)
	}
}

func TestReloadChecksum(t *testing.T) {
	v2 := workerCopy(t, "worker-v2")
	lean := testutil.MustBuild(t, "./internal/testutil/fixtures/lean")
	f := newFarm(t, farm.Config{Workers: 1, Checksum: sha256File(t, workerBin)})
	// The same build at another path matches the farm's checksum.
	if err := f.Reload(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	// Another build does not.
	if err := f.Reload(ctx(t), lean); !errors.Is(err, farm.ErrChecksumMismatch) {
		t.Fatalf("Reload of another build = %v, want ErrChecksumMismatch", err)
	}
	// With its checksum it gets to the method check.
	if err := f.ReloadChecksum(ctx(t), lean, sha256File(t, lean)); !errors.Is(err, farm.ErrMissingMethod) {
		t.Fatalf("ReloadChecksum = %v, want ErrMissingMethod", err)
	}
	if err := f.ReloadChecksum(ctx(t), lean, []byte("short")); !errors.Is(err, farm.ErrInvalidConfig) {
		t.Fatalf("ReloadChecksum with a bad sum = %v", err)
	}
	if got := exes(t, f, 2); got[v2] != 2 {
		t.Fatalf("exe = %v", got)
	}
}

func TestReloadConcurrentReloadsRunInTurn(t *testing.T) {
	v2, v3 := workerCopy(t, "worker-v2"), workerCopy(t, "worker-v3")
	var log eventLog
	f := newFarm(t, farm.Config{Workers: 2, OnEvent: log.add})
	errs := make(chan error, 2)
	for _, p := range []string{v2, v3} {
		go func() { errs <- f.Reload(ctx(t), p) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := exes(t, f, 4)
	if len(got) != 1 || (got[v2] == 0 && got[v3] == 0) {
		t.Fatalf("exe = %v: the last reload's binary on every slot", got)
	}
	testutil.Eventually(t, 5*time.Second, "the events", func() bool {
		return log.count(func(ev farm.Event) bool { return ev.Type == farm.EventReload }) == 4
	})
}

func TestReloadContextEnded(t *testing.T) {
	v2 := workerCopy(t, "worker-v2")
	f := newFarm(t, farm.Config{Workers: 2})
	old := workerPIDs(f)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	started := f.Stats().WorkersStarted
	if err := f.Reload(c, v2); !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "not a workestrator worker") {
		t.Fatalf("Reload with an ended ctx = %v", err)
	}
	if n := f.Stats().WorkersStarted; n != started {
		t.Errorf("workers started: %d, want %d: a reload whose ctx had ended started one", n, started)
	}
	if got := workerPIDs(f); !slices.Equal(got, old) {
		t.Fatalf("workers %v, want %v", got, old)
	}
}

func TestReloadAfterStop(t *testing.T) {
	v2 := workerCopy(t, "worker-v2")
	f := newFarm(t, farm.Config{Workers: 1})
	long := f.Go(ctx(t), "sleep", 300)
	testutil.Eventually(t, 5*time.Second, "call running", func() bool { return f.Stats().InFlight == 1 })
	shut := make(chan error, 1)
	go func() { shut <- f.Shutdown(ctx(t)) }()
	testutil.Eventually(t, 5*time.Second, "the drain", func() bool {
		_, err := f.Run(ctx(t))
		return errors.Is(err, farm.ErrShutdown)
	})
	if err := f.Reload(ctx(t), v2); !errors.Is(err, farm.ErrShutdown) {
		t.Fatalf("Reload while shutting down = %v", err)
	}
	if _, err := long.Result(); err != nil {
		t.Fatal(err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(ctx(t), v2); !errors.Is(err, farm.ErrFarmKilled) {
		t.Fatalf("Reload after Shutdown = %v", err)
	}
	var zero farm.Farm
	if err := zero.Reload(ctx(t), v2); !errors.Is(err, farm.ErrNotStarted) {
		t.Fatalf("Reload of a zero Farm = %v", err)
	}
}

func TestReloadWhileSlotRestarts(t *testing.T) {
	v2 := workerCopy(t, "worker-v2")
	f := newFarm(t, farm.Config{Workers: 2})
	old := workerPIDs(f)
	// The slot's supervisor restarts the old binary while Reload starts
	// the new one: the old-binary worker that comes up late is discarded.
	if err := syscall.Kill(old[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "two online workers, no other process", func() bool {
		ws := f.Stats().Workers
		return len(ws) == 2 && ws[0].State == "online" && ws[1].State == "online" &&
			len(testutil.Children(os.Getpid())) == 2
	})
	for range 3 {
		if got := exes(t, f, 8); got[v2] != 8 {
			t.Fatalf("exe = %v, want only %s", got, v2)
		}
	}
}
