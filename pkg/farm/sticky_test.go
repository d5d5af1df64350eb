package farm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// pidsOf returns the pid that answers each key, checking that every call
// of a key answers the same.
func pidsOf(t *testing.T, f *farm.Farm, keys []string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for round := range 3 {
		for _, k := range keys {
			pid, err := farm.Call[int](ctx(t), f.With(farm.CallOptions{Key: k}), "pid")
			if err != nil {
				t.Fatalf("key %s: %v", k, err)
			}
			if round > 0 && pids[k] != pid {
				t.Fatalf("key %s answered by %d, then %d", k, pids[k], pid)
			}
			pids[k] = pid
		}
	}
	return pids
}

func onlinePIDs(f *farm.Farm) map[int]bool {
	pids := map[int]bool{}
	for _, w := range f.Stats().Workers {
		if w.State == "online" {
			pids[w.PID] = true
		}
	}
	return pids
}

// Calls with the same key run on the same worker; keys spread over the
// workers; when a worker dies, only its keys move (to its replacement
// once online), the others stay where they were.
func TestStickyKeys(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 3})
	var keys []string
	for i := range 30 {
		keys = append(keys, fmt.Sprintf("user-%d", i))
	}
	before := pidsOf(t, f, keys)
	used := map[int]int{}
	for _, pid := range before {
		used[pid]++
	}
	if len(used) != 3 {
		t.Fatalf("30 keys on %d of 3 workers: %v", len(used), used)
	}
	victim := before[keys[0]]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the replacement online", func() bool {
		pids := onlinePIDs(f)
		return len(pids) == 3 && !pids[victim]
	})
	after := pidsOf(t, f, keys)
	replacement := 0
	for _, k := range keys {
		switch {
		case before[k] != victim && after[k] != before[k]:
			t.Errorf("key %s moved from %d to %d, though its worker lives", k, before[k], after[k])
		case before[k] == victim && replacement == 0:
			replacement = after[k]
		case before[k] == victim && after[k] != replacement:
			t.Errorf("the victim's keys split over %d and %d", replacement, after[k])
		}
	}
	if used[replacement] > 0 || replacement == victim {
		t.Errorf("the victim's keys went to %d, not to its slot's replacement", replacement)
	}
}

// A keyed call whose worker is at its cap waits for that worker, while an
// ordinary call runs on the other, idle one.
func TestStickyKeyWaitsForItsWorker(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 1})
	keyed := f.With(farm.CallOptions{Key: "k"})
	home, err := farm.Call[int](ctx(t), keyed, "pid")
	if err != nil {
		t.Fatal(err)
	}
	holdCtx, release := context.WithCancel(ctx(t))
	holder := keyed.Go(holdCtx, "sleep", 60_000)
	testutil.Eventually(t, 10*time.Second, "the holder runs", func() bool { return f.Stats().InFlight == 1 })
	waiter := farm.GoCall[int](ctx(t), keyed, "pid")
	other, err := farm.Call[int](ctx(t), f, "pid")
	if err != nil || other == home {
		t.Fatalf("ordinary call: pid %d (the keyed worker is %d), %v", other, home, err)
	}
	select {
	case <-waiter.Done():
		t.Fatal("the keyed call ran while its worker was at its cap")
	default:
	}
	if st := f.Stats(); st.Queued != 1 {
		t.Fatalf("queued = %d, want the keyed call", st.Queued)
	}
	release()
	if _, err := holder.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("holder: %v", err)
	}
	if pid, err := waiter.Result(); err != nil || pid != home {
		t.Fatalf("keyed call: pid %d, want %d; %v", pid, home, err)
	}
}

// A keyed call whose worker dies under it is retried elsewhere and keeps
// its retry policy.
func TestStickyKeyRetry(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	keyed := f.With(farm.CallOptions{Key: "k"})
	home, err := farm.Call[int](ctx(t), keyed, "pid")
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "crash")
	pid, err := farm.Call[int](ctx(t), keyed, "crashTimes", marker, 1)
	if err != nil || pid == home {
		t.Fatalf("retried keyed call: pid %d (the dead worker %d), %v", pid, home, err)
	}
	if b, _ := os.ReadFile(marker); len(b) != 1 {
		t.Fatalf("the call crashed %d workers, want 1", len(b))
	}
	// With no retries, the crash is the answer.
	marker2 := filepath.Join(t.TempDir(), "crash")
	noRetry := f.With(farm.CallOptions{Key: "k", MaxRetries: farm.NoRetries})
	if _, err := noRetry.RunMethod(ctx(t), "crashTimes", marker2, 1); !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("keyed call without retries: %v, want ErrWorkerTerminated", err)
	}
}
