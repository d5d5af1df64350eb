package nodetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

func testdata(name string) string { return filepath.Join(filepath.Dir(fixture), name) }

// A module that listens for SIGINT decides what SIGINT does, as in any
// Node.js program: its worker lives on. Its stop, which runs those
// listeners, ends in a SIGKILL after KillTimeout, as Workestrator's kill
// of such a module does.
func TestModuleKeepsWorkerOnSIGINT(t *testing.T) {
	const killTimeout = 300 * time.Millisecond
	exits := make(chan farm.Event, 16)
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("sigint.js")}, KillTimeout: killTimeout,
		OnEvent: func(e farm.Event) {
			if e.Type == farm.EventExit {
				exits <- e
			}
		}})
	if v, err := farm.Call[int](ctx(t), f, farm.DefaultMethod); err != nil || v != 0 {
		t.Fatalf("run() = %v, %v", v, err)
	}
	pid := workerPIDs(f)[0]
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	seenBySameWorker(t, f, "sigints", pid)
	start := time.Now()
	f.Kill()
	if el := time.Since(start); el < killTimeout {
		t.Errorf("Kill took %v, less than KillTimeout: the worker did not wait for its SIGINT listener", el)
	}
	select {
	case e := <-exits:
		if e.PID != pid || e.Exit == nil || e.Exit.Signal != "killed" {
			t.Fatalf("exit of pid %d (want %d): %+v, want a SIGKILL", e.PID, pid, e.Exit)
		}
	case <-ctx(t).Done():
		t.Fatal("no exit event")
	}
}

// A stop runs the module's SIGINT listeners, or its SIGTERM ones: one that
// cleans up and exits (after a while: the worker waits for it) ends its
// worker before KillTimeout.
func TestStopRunsModuleSignalListener(t *testing.T) {
	for _, c := range []struct {
		module string
		took   time.Duration // how long its cleanup takes
	}{{"cleanup.js", 0}, {"sigterm.js", 0}, {"sigterm.js", 1500 * time.Millisecond}} {
		t.Run(fmt.Sprintf("%s-%v", c.module, c.took), func(t *testing.T) { stopRunsModuleSignalListener(t, c.module, c.took) })
	}
}

func stopRunsModuleSignalListener(t *testing.T, module string, took time.Duration) {
	mark := filepath.Join(t.TempDir(), "cleaned")
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata(module)}, KillTimeout: 5 * time.Second,
		Env: []string{"CLEANUP_MARK=" + mark, fmt.Sprintf("CLEANUP_MS=%d", took.Milliseconds())}})
	pid, err := farm.Call[int](ctx(t), f, farm.DefaultMethod)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.Kill()
	if el := time.Since(start); el >= 5*time.Second {
		t.Errorf("Kill took %v: the listener's exit was not seen", el)
	}
	b, err := os.ReadFile(mark)
	if err != nil || string(b) != strconv.Itoa(pid) {
		t.Fatalf("cleanup mark: %q, %v; want the worker's pid %d", b, err, pid)
	}
}

// `this` is the module's exports, as in Workestrator: what a call sets on
// it stays, and the default export's this is itself. An omitted last
// argument that the function passes to a constructor stays undefined.
func TestThisIsTheModule(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("shapes.js")}})
	if v, err := farm.Call[string](ctx(t), f, farm.DefaultMethod); err != nil || v != "function" {
		t.Fatalf("typeof this in the default export = %q, %v", v, err)
	}
	if _, err := f.RunMethod(ctx(t), "set", 7); err != nil {
		t.Fatal(err)
	}
	if v, err := farm.Call[int](ctx(t), f, "get"); err != nil || v != 7 {
		t.Fatalf("get() after set(7) = %v, %v", v, err)
	}
	_, err := f.RunMethod(ctx(t), "err", "TypeError")
	var re *farm.RemoteError
	if !errors.As(err, &re) || re.Type != "TypeError" || re.Message != "" {
		t.Fatalf("err(\"TypeError\") = %v; want a TypeError with an empty message", err)
	}
}

// A module that listens for uncaught exceptions keeps its worker when one
// comes, as a Node.js program does.
func TestModuleHandlesUncaughtException(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("shapes.js")}})
	pid := workerPIDs(f)[0]
	if _, err := f.RunMethod(ctx(t), "throwLater"); err != nil {
		t.Fatal(err)
	}
	seenBySameWorker(t, f, "caught", pid)
}

// seenBySameWorker waits until the module's counter method answers 1 (its
// listener saw the event) and checks that f's only worker is still pid.
func seenBySameWorker(t *testing.T, f *farm.Farm, counter string, pid int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "the module's listener seeing the event ("+counter+")", func() bool {
		n, err := farm.Call[int](ctx(t), f, counter)
		return err == nil && n == 1
	})
	if got := workerPIDs(f); len(got) != 1 || got[0] != pid || f.Stats().WorkersExited != 0 {
		t.Fatalf("workers: %v, want [%d]; exited %d", got, pid, f.Stats().WorkersExited)
	}
}

// A module that exports a class instance serves its methods, which see
// the instance as this.
func TestClassInstanceModule(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("instance.js")}})
	for want := 2; want <= 4; want += 2 {
		if v, err := farm.Call[int](ctx(t), f, "bump", 2); err != nil || v != want {
			t.Fatalf("bump(2) = %v, %v; want %d", v, err, want)
		}
	}
	testutil.Eventually(t, time.Second, "one worker", func() bool { return len(f.Stats().Workers) == 1 })
}

// A module with one shutdown for SIGINT and SIGTERM has it run once by a
// stop; a module without listeners dies of a SIGINT, as in Workestrator,
// and is replaced.
func TestModuleSignalListenersOnce(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "cleaned")
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("both.js")}, KillTimeout: 5 * time.Second,
		Env: []string{"CLEANUP_MARK=" + mark}})
	if _, err := farm.Call[int](ctx(t), f, farm.DefaultMethod); err != nil {
		t.Fatal(err)
	}
	f.Kill()
	if b, err := os.ReadFile(mark); err != nil || string(b) != "1" {
		t.Fatalf("the shutdown ran %q times (%v), want once", b, err)
	}

	g := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("shapes.js")}})
	pid := workerPIDs(g)[0]
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the SIGINTed worker replaced", func() bool {
		ws := g.Stats().Workers
		return !testutil.Alive(pid) && len(ws) == 1 && ws[0].PID != pid
	})
}

// An ES module serves its named function exports and its default export's
// methods; each reaches its siblings through this.
func TestESModule(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("esm.mjs")}})
	if v, err := farm.Call[int](ctx(t), f, "named", 2); err != nil || v != 20 {
		t.Fatalf("named(2) = %v, %v", v, err)
	}
	if v, err := farm.Call[int](ctx(t), f, "twice", 1); err != nil || v != 4 {
		t.Fatalf("twice(1) = %v, %v", v, err)
	}
	f.Kill()
	g := newFarm(t, farm.Config{Workers: 1, Args: []string{testdata("esmclass.mjs")}})
	if v, err := farm.Call[int](ctx(t), g, "hello", 1); err != nil || v != 2 {
		t.Fatalf("hello(1) of a default class instance = %v, %v", v, err)
	}
}
