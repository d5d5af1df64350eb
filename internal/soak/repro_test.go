package soak_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// Regression tests for farm behaviours the chaos soak found.

func newReproFarm(t *testing.T, cfg farm.Config) *farm.Farm {
	t.Helper()
	cfg.Path = chaosWorker
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: os.Stderr})
	f, err := farm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Kill()
		testutil.NoChildren(t, 2*time.Second)
	})
	return f
}

// A call that crashes its worker takes the calls in flight beside it down
// with it on every attempt: the dead worker's calls all go back to the
// front of the queue together and are dispatched together to the next
// worker with room (typically the fresh replacement, with 0 in flight), so
// the innocent calls share each of the poison call's attempts and exhaust
// their retries with it. Retries do not protect them.
func TestRegressionPoisonCallTakesInnocentsDown(t *testing.T) {
	f := newReproFarm(t, farm.Config{Workers: 2, MaxRetries: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	poison := f.Go(ctx, "chaos", 0, "exit")
	var innocents []*farm.Future
	for i := 1; i < 20; i++ {
		innocents = append(innocents, f.Go(ctx, "sleep", i, 100))
	}
	if _, err := poison.Result(); !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("poison call: %v", err)
	}
	failed := 0
	for _, fu := range innocents {
		if _, err := fu.Result(); err != nil {
			failed++
			t.Log(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d innocent calls failed with the poison call, despite MaxRetries 3", failed, len(innocents))
	}
}

// A slot whose workers die within a second of their start counts each
// death as a failed start, even when the worker answered calls: a few
// poison calls put the slot into a start backoff that doubles up to 5 s,
// and the farm's capacity drops though every worker is healthy.
func TestRegressionCrashBackoffAfterHealthyWorkers(t *testing.T) {
	f := newReproFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var worst time.Duration
	for i := range 8 {
		// A healthy worker: it answers calls...
		for j := range 50 {
			if _, err := f.RunMethod(ctx, "chaos", j, "ok"); err != nil {
				t.Fatal(err)
			}
		}
		// ...until one call crashes it.
		if _, err := f.RunMethod(ctx, "chaos", i, "exit"); !errors.Is(err, farm.ErrWorkerTerminated) {
			t.Fatalf("exit call: %v", err)
		}
		start := time.Now()
		if _, err := f.RunMethod(ctx, "chaos", i, "ok"); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		worst = max(worst, d)
		t.Logf("crash %d: the next call waited %v for a worker", i+1, d.Round(time.Millisecond))
	}
	if worst > 500*time.Millisecond {
		t.Errorf("a call waited %v for the replacement of a worker that had answered 50 calls", worst)
	}
}

// A worker whose OnShutdown hook does not return (here, the fixture's
// "stubborn" worker, which also ignores SIGTERM) outlives a host killed
// with SIGKILL forever: the lifeline's EOF runs the hooks before exiting,
// and nobody is left to SIGKILL it after KillTimeout.
func TestRegressionStubbornWorkerOrphaned(t *testing.T) {
	out, code := runProgram(t, 2*time.Minute, orphanBin, "-scenario", "stubborn",
		"-worker", chaosWorker, "-fixture-worker", fixtureWorker)
	if code != 0 || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("orphan -scenario stubborn: exit code %d", code)
	}
}

// An attempt that runs past Config.Timeout in a function that honours its
// context must fail with a TimeoutError (ErrTimeout, retried). But the
// worker applies the same Timeout to the function's context itself, from
// when it receives the call: when its reply (ctx.Err(), code CANCELED)
// reaches the farm before the farm's own timer takes the lock, the caller
// gets that RemoteError (ErrCanceled, "context deadline exceeded") instead,
// and the call is not retried.
func TestRegressionTimeoutReportedAsCanceled(t *testing.T) {
	f := newReproFarm(t, farm.Config{Workers: 2, Timeout: 5 * time.Millisecond, KillTimeout: time.Second, MaxRetries: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var futures []*farm.Future
	for i := range 400 {
		futures = append(futures, f.Go(ctx, "sleep", i, 10_000))
	}
	wrong := 0
	for _, fu := range futures {
		_, err := fu.Result()
		if !errors.Is(err, farm.ErrTimeout) {
			if wrong == 0 {
				t.Logf("first wrong error: %T %v (ErrCanceled: %v)", err, err, errors.Is(err, farm.ErrCanceled))
			}
			wrong++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d calls past their Timeout failed without ErrTimeout", wrong, len(futures))
	}
}
