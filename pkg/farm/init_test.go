package farm_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/testutil/fixturetypes"
	"github.com/workestrator/workestrator/pkg/farm"
)

// stateInit sets the fixture's process state to "ready" on every worker.
var stateInit = farm.Init{Method: "setState", Args: []any{"ready"}}

// checkState fails t unless n calls of getState, in flight together, all
// see exactly one Init's state, and returns the pids that answered.
func checkState(t *testing.T, f *farm.Farm, n int) map[int]bool {
	t.Helper()
	var futures []*farm.Future
	for range n {
		futures = append(futures, f.Go(ctx(t), "getState"))
	}
	pids := map[int]bool{}
	for _, fu := range futures {
		r, err := fu.Result()
		if err != nil {
			t.Fatal(err)
		}
		var got fixturetypes.State
		if err := r.Decode(&got); err != nil || got.State != "ready" {
			t.Fatalf("getState = %+v, %v; want \"ready\" (Init once, before any call)", got, err)
		}
		pids[got.PID] = true
	}
	return pids
}

func TestInitOnEveryWorkerAndTTLReplacement(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, TTL: 4, Init: stateInit})
	pids := map[int]bool{}
	for range 10 {
		for pid := range checkState(t, f, 8) {
			pids[pid] = true
		}
	}
	// 80 calls at most 4 a worker: at least 20 workers, each with the state.
	if st := f.Stats(); len(pids) < 20 || st.WorkersRecycled < 18 {
		t.Fatalf("%d workers answered, stats %+v: TTL did not recycle", len(pids), st)
	}
}

func TestInitAfterCrash(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1, MaxRetries: farm.NoRetries, Init: stateInit})
	old := workerPIDs(f)[0]
	// Calls queued behind block while the worker is killed run on the
	// replacement, after its Init.
	block := f.Go(ctx(t), "block")
	testutil.Eventually(t, 5*time.Second, "call running", func() bool { return f.Stats().InFlight == 1 })
	var futures []*farm.Future
	for range 20 {
		futures = append(futures, f.Go(ctx(t), "getState"))
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, fu := range futures {
		var got fixturetypes.State
		if r, err := fu.Result(); err != nil || r.Decode(&got) != nil || got.State != "ready" || got.PID == old {
			t.Fatalf("getState = %+v, %v; want \"ready\" from the replacement", got, err)
		}
	}
	if _, err := block.Result(); !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("block: %v, want ErrWorkerTerminated", err)
	}
	if pids := checkState(t, f, 4); pids[old] {
		t.Fatalf("pids %v include the killed worker", pids)
	}
}

func TestInitFailsStart(t *testing.T) {
	cases := []struct {
		name string
		init farm.Init
		is   error
	}{
		{"error", farm.Init{Method: "fail", Args: []any{"plain"}}, nil},
		{"panic", farm.Init{Method: "panic", Args: []any{"boom"}}, farm.ErrPanic},
		{"unknown method", farm.Init{Method: "noSuchMethod"}, farm.ErrUnknownMethod},
		{"bad arguments", farm.Init{Method: "setState", Args: []any{1, 2}}, farm.ErrBadArguments},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := farm.New(farm.Config{Path: workerBin, Workers: 2, Init: tc.init, Logger: testLogger(t)})
			if err == nil {
				f.Kill()
				t.Fatal("New succeeded")
			}
			var se *farm.StartError
			var re *farm.RemoteError
			if !errors.As(err, &se) || !errors.Is(err, farm.ErrWorkerStart) || !errors.As(err, &re) || re.Method != tc.init.Method {
				t.Fatalf("err = %v (%T): want a *StartError wrapping the Init's *RemoteError", err, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v: want it to match %v", err, tc.is)
			}
			testutil.NoChildren(t, 2*time.Second)
		})
	}
}

func TestInitCrashFailsStart(t *testing.T) {
	_, err := farm.New(farm.Config{Path: workerBin, Workers: 1, Init: farm.Init{Method: "exit", Args: []any{3}}, Logger: testLogger(t)})
	var se *farm.StartError
	var we *farm.WorkerExitError
	if !errors.As(err, &se) || !errors.As(err, &we) || we.Status.Code != 3 {
		t.Fatalf("err = %v: want a *StartError wrapping a *WorkerExitError with exit status 3", err)
	}
	testutil.NoChildren(t, 2*time.Second)
}

func TestInitInvalid(t *testing.T) {
	for _, in := range []farm.Init{
		{Args: []any{"no method"}},
		{Method: "setState", Args: []any{make(chan int)}},
	} {
		_, err := farm.New(farm.Config{Path: workerBin, Workers: 1, Init: in})
		if !errors.Is(err, farm.ErrInvalidConfig) {
			t.Fatalf("Init %+v: err = %v, want ErrInvalidConfig", in, err)
		}
	}
}

// panicky is an argument whose encoding panics.
type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("MarshalJSON broke") }

// An Init argument whose encoding panics makes New panic before it makes
// anything: no socket directory, no lock file, no process.
func TestInitEncodingPanicLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("New did not panic")
			}
		}()
		_, _ = farm.New(farm.Config{Path: workerBin, Workers: 1, Init: farm.Init{Method: "setState", Args: []any{panicky{}}}, Logger: testLogger(t)})
	}()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("left in TMPDIR: %v", left)
	}
	testutil.NoChildren(t, 2*time.Second)
}
