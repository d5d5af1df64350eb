package farm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/farm"
)

func workerPIDs(f *farm.Farm) []int {
	var pids []int
	for _, w := range f.Stats().Workers {
		pids = append(pids, w.PID)
	}
	return pids
}

func TestKillSettlesEverything(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 2, KillTimeout: 200 * time.Millisecond})
	pids := workerPIDs(f)
	var futures []*farm.Future
	for range 4 {
		futures = append(futures, f.Go(ctx(t), "block")) // in flight
	}
	for range 10 {
		futures = append(futures, f.Go(ctx(t), "add", 1, 2, 3)) // queued
	}
	testutil.Eventually(t, 5*time.Second, "4 in flight", func() bool { return f.Stats().InFlight == 4 })
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > 200*time.Millisecond+700*time.Millisecond {
		t.Errorf("Kill took %v with KillTimeout 200ms", d)
	}
	for i, fu := range futures {
		select {
		case <-fu.Done():
		default:
			t.Fatalf("call %d not settled after Kill", i)
		}
		if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
			t.Fatalf("call %d: %v, want ErrFarmKilled", i, err)
		}
	}
	for _, pid := range pids {
		if testutil.Alive(pid) {
			t.Errorf("worker %d alive after Kill", pid)
		}
	}
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); !errors.Is(err, farm.ErrFarmKilled) {
		t.Fatalf("call after Kill: %v", err)
	}
}

func TestKillConcurrentAndIdempotent(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(f.Kill)
		wg.Go(func() { _ = f.Shutdown(context.Background()) })
	}
	wg.Wait()
	f.Kill()
}

func TestKillAll(t *testing.T) {
	a := newFarm(t, farm.Config{Workers: 1})
	b := newFarm(t, farm.Config{Workers: 1})
	pids := append(workerPIDs(a), workerPIDs(b)...)
	fu := b.Go(ctx(t), "block")
	farm.KillAll()
	if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
		t.Fatalf("in-flight call: %v", err)
	}
	for _, pid := range pids {
		if testutil.Alive(pid) {
			t.Errorf("worker %d alive after KillAll", pid)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "workestrator-"+strconv.Itoa(os.Getpid())+"-*"))
	if len(matches) != 0 {
		t.Fatalf("socket directories left: %v", matches)
	}
}

// KillAll reaches a farm whose New is still starting its workers: New
// fails with ErrFarmKilled and leaves no process.
func TestKillAllDuringNew(t *testing.T) {
	online := make(chan struct{}, 64)
	type result struct {
		f   *farm.Farm
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := farm.New(farm.Config{Path: workerBin, Workers: 16, Logger: testLogger(t), OnEvent: func(e farm.Event) {
			if e.Type == farm.EventOnline {
				online <- struct{}{}
			}
		}})
		done <- result{f, err}
	}()
	select {
	case <-online:
	case r := <-done:
		t.Fatalf("New returned before KillAll: %v", r.err)
	}
	farm.KillAll()
	if left := testutil.Children(os.Getpid()); len(left) != 0 {
		t.Errorf("processes alive when KillAll returned: %v", left)
	}
	r := <-done
	if r.err == nil {
		// New was done before KillAll came: KillAll killed the farm.
		defer r.f.Kill()
		if _, err := r.f.Run(ctx(t)); !errors.Is(err, farm.ErrFarmKilled) {
			t.Fatalf("a farm New returned is alive after KillAll: %v", err)
		}
	} else if r.err != farm.ErrFarmKilled { // itself, not a join of each start's
		t.Fatalf("New: %v, want ErrFarmKilled", r.err)
	}
	testutil.NoChildren(t, 2*time.Second)
}

func TestShutdownDrains(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1})
	var futures []*farm.Future
	for range 5 {
		futures = append(futures, f.Go(ctx(t), "sleep", 20))
	}
	if err := f.Shutdown(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for i, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); !errors.Is(err, farm.ErrFarmKilled) && !errors.Is(err, farm.ErrShutdown) {
		t.Fatalf("after Shutdown: %v", err)
	}
}

func TestShutdownRefusesNewCalls(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	fu := f.Go(ctx(t), "sleep", 300)
	done := make(chan error)
	go func() { done <- f.Shutdown(ctx(t)) }()
	testutil.Eventually(t, 5*time.Second, "new calls refused", func() bool {
		_, err := f.RunMethod(ctx(t), "add", 1, 2, 3)
		return errors.Is(err, farm.ErrShutdown)
	})
	if _, err := fu.Result(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestShutdownDeadlineKills(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 50 * time.Millisecond})
	fu := f.Go(ctx(t), "block")
	c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.Shutdown(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
		t.Fatalf("blocked call: %v", err)
	}
}

// Kill cancels the context of the calls its workers run, on either data
// plane: a function that heeds it learns it before its worker exits.
func TestKillCancelsRunningCalls(t *testing.T) {
	for _, plane := range []string{"socket", wire.DataPlaneGRPC} {
		t.Run(plane, func(t *testing.T) {
			if plane == wire.DataPlaneGRPC {
				t.Setenv(wire.EnvDataPlane, wire.DataPlaneGRPC)
			}
			journal := filepath.Join(t.TempDir(), "journal")
			f := newFarm(t, farm.Config{Workers: 1})
			fu := f.Go(ctx(t), "record", journal, 1, -1)
			testutil.Eventually(t, 10*time.Second, "the call runs", func() bool {
				b, _ := os.ReadFile(journal)
				return strings.Contains(string(b), "start 1 ")
			})
			f.Kill()
			if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
				t.Fatalf("the call: %v, want ErrFarmKilled", err)
			}
			if b, _ := os.ReadFile(journal); !strings.Contains(string(b), "cancel 1 ") {
				t.Errorf("the function's context was not cancelled before its worker exited; journal:\n%s", b)
			}
		})
	}
}
