package farm_test

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// Kill returns within KillTimeout and a small margin for a worker that
// ignores SIGTERM and one that is frozen, and leaves nothing behind: no
// process, goroutine or descriptor.
func TestKillBoundedAndClean(t *testing.T) {
	const kt = 300 * time.Millisecond
	const bound = kt + kt/10 + 150*time.Millisecond
	fds, goroutines := testutil.OpenFDs(t), goleak.IgnoreCurrent()
	var closes atomic.Int32
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2, KillTimeout: kt, Logger: testLogger(t),
		OnEvent: func(e farm.Event) {
			if e.Type == farm.EventClose {
				closes.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.BroadcastMethod(ctx(t), "stubborn"); err != nil {
		t.Fatal(err)
	}
	pids := workerPIDs(f)
	testutil.Freeze(t, pids[1])
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > bound {
		t.Errorf("Kill took %v with KillTimeout %v, want at most %v", d, kt, bound)
	}
	for _, pid := range pids {
		if testutil.Alive(pid) {
			t.Errorf("worker %d alive after Kill", pid)
		}
	}
	if n := testutil.OpenFDs(t); n != fds {
		t.Errorf("%d descriptors open after Kill, %d before New", n, fds)
	}
	if n := closes.Load(); n != 2 {
		t.Errorf("%d close events delivered when Kill returned, want 2", n)
	}
	goleak.VerifyNone(t, goroutines)
}

// A busy event listener does not add another KillTimeout to Kill.
func TestKillBoundedWithBusyListener(t *testing.T) {
	const kt = 300 * time.Millisecond
	const bound = kt + kt/10 + 150*time.Millisecond
	release := make(chan struct{})
	defer close(release)
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 1, KillTimeout: kt, Logger: testLogger(t),
		OnEvent: func(e farm.Event) {
			if e.Type == farm.EventDisconnect {
				<-release
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.BroadcastMethod(ctx(t), "stubborn"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > bound {
		t.Errorf("Kill took %v with KillTimeout %v, want at most %v", d, kt, bound)
	}
}
