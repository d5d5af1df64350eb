package clustertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// The caller's cancellation reaches the function on the agent.
func TestCancelReachesAgent(t *testing.T) {
	f := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", f.URL(), nil)
	waitJoined(t, f, 2, a1)
	j := newJournal(t)
	c, cancel := context.WithCancel(ctx(t))
	fu := f.Go(c, "record", string(j), 1, -1)
	testutil.Eventually(t, 10*time.Second, "the call started", func() bool { return j.count(t, "start")[1] == 1 })
	cancel()
	if _, err := fu.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	testutil.Eventually(t, 5*time.Second, "the function saw its context end", func() bool { return j.count(t, "cancel")[1] == 1 })
	// The worker is free again: the cancelled call does not hold it.
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
}

// Timeout: the attempt's budget travels with it; the agent's function is
// cancelled when it runs out, and the host reports the timeout.
func TestTimeoutBudget(t *testing.T) {
	f := newHost(t, farm.Config{Timeout: 300 * time.Millisecond, MaxRetries: farm.NoRetries})
	a1 := startAgent(t, "a1", f.URL(), nil)
	waitJoined(t, f, 2, a1)
	j := newJournal(t)
	start := time.Now()
	_, err := f.RunMethod(ctx(t), "record", string(j), 1, 10_000)
	if !errors.Is(err, farm.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the timeout came after %v", d)
	}
	testutil.Eventually(t, 5*time.Second, "the function was cancelled", func() bool { return j.count(t, "cancel")[1] == 1 })
}

// A call whose budget runs out while it waits at the agent is dropped,
// never run.
func TestExpiredCallDropped(t *testing.T) {
	f := newHost(t, farm.Config{MaxRetries: farm.NoRetries})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1", "--max-per-worker", "1", "--prefetch", "1")
	waitJoined(t, f, 1, a1)
	j := newJournal(t)
	busy := f.Go(ctx(t), "record", string(j), 1, 1500)
	testutil.Eventually(t, 10*time.Second, "the first call started", func() bool { return j.count(t, "start")[1] == 1 })
	c, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	// Prefetched: it waits at the agent behind the first call.
	_, err := f.RunMethod(c, "record", string(j), 2, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if _, err := busy.Result(); err != nil {
		t.Fatal(err)
	}
	// The next call runs after anything queued before it.
	if _, err := f.RunMethod(ctx(t), "record", string(j), 3, 0); err != nil {
		t.Fatal(err)
	}
	if n := j.count(t, "start")[2]; n != 0 {
		t.Fatalf("the expired call ran %d times", n)
	}
}

// A budget that has run out when the agent would start the call, though
// a worker is free, drops it unrun.
func TestBudgetSpentBeforeStartDropped(t *testing.T) {
	f := newHost(t, farm.Config{MaxRetries: farm.NoRetries})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1")
	waitJoined(t, f, 1, a1)
	j := newJournal(t)
	for i := range 20 {
		_, err := f.With(farm.CallOptions{Timeout: time.Nanosecond}).RunMethod(ctx(t), "record", string(j), i, 0)
		if !errors.Is(err, farm.ErrTimeout) {
			t.Fatalf("call %d: %v, want ErrTimeout", i, err)
		}
	}
	// A call after them runs after whatever they left at the agent.
	if _, err := f.RunMethod(ctx(t), "record", string(j), 100, 0); err != nil {
		t.Fatal(err)
	}
	if started := j.count(t, "start"); len(started) != 1 {
		t.Fatalf("calls whose 1 ns budget had run out started: %v", started)
	}
}
