package farm_test

import (
	"sync"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// forks counts the worker processes a farm started and lists the online
// ones, from its events.
type forks struct {
	mu      sync.Mutex
	started int
	online  map[int]bool
}

func (k *forks) listen(ev farm.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch ev.Type {
	case farm.EventFork:
		k.started++
	case farm.EventOnline:
		k.online[ev.PID] = true
	case farm.EventExit:
		delete(k.online, ev.PID)
	}
}

func (k *forks) counts() (started, online int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.started, len(k.online)
}

// An elastic farm starts MinWorkers workers, starts just enough more for a
// burst of calls that wait, and stops them once they idle ScaleDownAfter.
func TestAutoscaling(t *testing.T) {
	k := &forks{online: map[int]bool{}}
	f := newFarm(t, farm.Config{Workers: 3, MinWorkers: 1, MaxConcurrentCallsPerWorker: 4,
		ScaleDownAfter: 300 * time.Millisecond, OnEvent: k.listen})
	if started, _ := k.counts(); started != 1 || len(f.Stats().Workers) != 1 {
		t.Fatalf("New started %d workers, want MinWorkers = 1", started)
	}
	// A burst that one worker serves starts nothing.
	var small []*farm.Future
	for range 4 {
		small = append(small, f.Go(ctx(t), "sleep", 50))
	}
	for _, fu := range small {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
	if started, _ := k.counts(); started != 1 {
		t.Fatalf("4 calls for 1 worker of cap 4 started %d workers", started)
	}
	// 9 calls: 4 run, 5 wait; 2 more workers take them (4 each), not more.
	burst := time.Now()
	var big []*farm.Future
	for range 9 {
		big = append(big, f.Go(ctx(t), "sleep", 400))
	}
	testutil.Eventually(t, 10*time.Second, "3 workers online", func() bool {
		_, online := k.counts()
		return online == 3
	})
	t.Logf("from the burst to 3 workers online: %v", time.Since(burst).Round(time.Millisecond))
	pids := map[int]bool{}
	for _, fu := range big {
		r, err := fu.Result()
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := r.Decode(&pid); err != nil {
			t.Fatal(err)
		}
		pids[pid] = true
	}
	if started, _ := k.counts(); started != 3 || len(pids) != 3 {
		t.Fatalf("the burst started %d workers in all and ran on %d; want 3 and 3", started, len(pids))
	}
	// Idle, the two above MinWorkers stop; the first stays.
	testutil.Eventually(t, 10*time.Second, "back to 1 worker", func() bool {
		_, online := k.counts()
		return online == 1 && f.Stats().WorkersScaledDown == 2
	})
	if started, _ := k.counts(); started != 3 {
		t.Fatalf("%d workers started in all, want 3: no flapping", started)
	}
	// A broadcast reaches the worker left, and a new burst scales up again.
	replies, err := f.BroadcastMethod(ctx(t), "pid")
	if err != nil || len(replies) != 1 || replies[0].Slot != 0 {
		t.Fatalf("broadcast = %+v, %v", replies, err)
	}
	var again []*farm.Future
	for range 6 {
		again = append(again, f.Go(ctx(t), "sleep", 100))
	}
	for _, fu := range again {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
	if started, _ := k.counts(); started != 4 {
		t.Fatalf("%d workers started in all, want 4 (one more for 6 calls)", started)
	}
}
