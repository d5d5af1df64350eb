package farm_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

func TestStatsCounters(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxRetries: 1})
	pids := workerPIDs(f)
	for i := range 10 {
		if _, err := f.RunMethod(ctx(t), "add", i, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.RunMethod(ctx(t), "fail", "plain"); err == nil { // retried once
		t.Fatal("fail succeeded")
	}
	if _, err := f.RunMethod(ctx(t), "fail", "permanent"); err == nil { // never retried
		t.Fatal("fail succeeded")
	}
	st := f.Stats()
	const attempts = 10 + 2 + 1
	if st.Submitted != 12 || st.Succeeded != 10 || st.Failed != 2 || st.Retried != 1 ||
		st.TimedOut != 0 || st.Refused != 0 || st.Queued != 0 || st.InFlight != 0 {
		t.Fatalf("totals %+v", st)
	}
	if st.WorkersStarted != 2 || st.StartFailures != 0 || st.WorkersExited != 0 || st.WorkersCrashed != 0 || st.WorkersRecycled != 0 {
		t.Fatalf("worker totals %+v", st)
	}
	if st.QueueWait.Count != attempts || st.RunTime.Count != attempts {
		t.Fatalf("histogram counts %d, %d; want %d", st.QueueWait.Count, st.RunTime.Count, attempts)
	}
	for _, p := range []farm.Percentiles{st.QueueWait, st.RunTime} {
		if !(p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.Max && p.Mean <= p.Max && p.Max < 5*time.Second) {
			t.Fatalf("percentiles %+v", p)
		}
	}
	if st.RunTime.P50 <= 0 {
		t.Fatalf("run time %+v", st.RunTime)
	}
	if len(st.Workers) != 2 {
		t.Fatalf("workers %+v", st.Workers)
	}
	calls, answered := 0, 0
	for i, w := range st.Workers {
		if w.Slot != i || w.WorkerID < 1 || w.WorkerID > 2 || !slices.Contains(pids, w.PID) || w.State != "online" ||
			w.InFlight != 0 || w.Abandoned != 0 || w.Restarts != 0 || w.Age <= 0 || w.Age > time.Minute {
			t.Fatalf("worker %d: %+v", i, w)
		}
		calls += w.Calls
		answered += w.Answered
	}
	if calls != attempts || answered != attempts {
		t.Fatalf("workers took %d calls and answered %d; want %d", calls, answered, attempts)
	}
}

func TestStatsQueueInFlightRefused(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1, MaxConcurrentCalls: 2})
	first := f.Go(ctx(t), "sleep", 300)
	second := f.Go(ctx(t), "sleep", 300)
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); !errors.Is(err, farm.ErrMaxConcurrentCalls) {
		t.Fatalf("third call: %v", err)
	}
	st := f.Stats()
	if st.Queued != 1 || st.InFlight != 1 || st.Refused != 1 || st.Submitted != 2 ||
		st.Workers[0].InFlight != 1 || st.Workers[0].Calls != 1 || st.Workers[0].Answered != 0 {
		t.Fatalf("while busy: %+v", st)
	}
	for _, fu := range []*farm.Future{first, second} {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
	st = f.Stats()
	if st.Queued != 0 || st.InFlight != 0 || st.Succeeded != 2 || st.Workers[0].Answered != 2 {
		t.Fatalf("after: %+v", st)
	}
	// The second call waited for the first; both ran about 300 ms.
	if st.QueueWait.Max < 250*time.Millisecond || st.QueueWait.P50 > 50*time.Millisecond {
		t.Fatalf("queue wait %+v", st.QueueWait)
	}
	if st.RunTime.P50 < 280*time.Millisecond || st.RunTime.Max < 300*time.Millisecond || st.RunTime.Max > 2*time.Second {
		t.Fatalf("run time %+v", st.RunTime)
	}
}

func TestStatsRecycleCrashTimeout(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, TTL: 2, Timeout: 50 * time.Millisecond, MaxRetries: farm.NoRetries})
	first := workerPIDs(f)[0]
	for range 2 {
		if _, err := f.RunMethod(ctx(t), "add", 1, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the TTL replacement", func() bool {
		st := f.Stats()
		return st.WorkersRecycled == 1 && len(st.Workers) == 1 && st.Workers[0].State == "online"
	})
	st := f.Stats()
	if w := st.Workers[0]; w.WorkerID != 2 || w.PID == first || w.Restarts != 1 || w.Calls != 0 || st.WorkersStarted != 2 || st.WorkersExited != 1 {
		t.Fatalf("after TTL: %+v", st)
	}
	if _, err := f.RunMethod(ctx(t), "sleep", 5000); !errors.Is(err, farm.ErrTimeout) {
		t.Fatalf("sleep: %v", err)
	}
	if _, err := f.RunMethod(ctx(t), "exit", 3); !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("exit: %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "the crash replacement", func() bool {
		st := f.Stats()
		return len(st.Workers) == 1 && st.Workers[0].WorkerID == 3
	})
	st = f.Stats()
	if st.TimedOut != 1 || st.WorkersCrashed != 1 || st.WorkersExited != 2 || st.WorkersStarted != 3 ||
		st.Workers[0].Restarts != 2 || st.Failed != 2 || st.Succeeded != 2 {
		t.Fatalf("after timeout and crash: %+v", st)
	}
}

func TestStatsAfterKill(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	if _, err := f.RunMethod(ctx(t), "add", 1, 1, 1); err != nil {
		t.Fatal(err)
	}
	f.Kill()
	st := f.Stats()
	// Kill's stops are neither crashes nor recycling.
	if len(st.Workers) != 0 || st.WorkersExited != 2 || st.WorkersCrashed != 0 || st.WorkersRecycled != 0 || st.Succeeded != 1 {
		t.Fatalf("after Kill: %+v", st)
	}
}
