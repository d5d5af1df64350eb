package farm_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// Where the supervisor's features meet: autoscaling with Reload and with
// sticky keys, raw byte slices with the size limit.

// A Reload leaves scaled-down slots scaled down; when they start again,
// they run the new binary.
func TestReloadKeepsParkedSlotsParked(t *testing.T) {
	v2 := workerCopy(t, "worker-v2")
	k := &forks{online: map[int]bool{}}
	f := newFarm(t, farm.Config{Workers: 3, MinWorkers: 1, MaxConcurrentCallsPerWorker: 1,
		ScaleDownAfter: time.Minute, OnEvent: k.listen})
	if err := f.Reload(ctx(t), v2); err != nil {
		t.Fatal(err)
	}
	// The old worker drains and exits after Reload returns.
	testutil.Eventually(t, 10*time.Second, "one worker online after Reload", func() bool {
		_, online := k.counts()
		return online == 1
	})
	if started, _ := k.counts(); started != 2 {
		t.Fatalf("%d workers started by New and Reload with MinWorkers 1, want 2", started)
	}
	if replies, err := f.BroadcastMethod(ctx(t), "pid"); err != nil || len(replies) != 1 {
		t.Fatalf("broadcast: %d replies, %v", len(replies), err)
	}
	// Three calls at once: the two parked slots start, with the new binary.
	var futures []*farm.Future
	for range 3 {
		futures = append(futures, f.Go(ctx(t), "sleep", 300))
	}
	for _, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
	if started, _ := k.counts(); started != 4 {
		t.Fatalf("%d workers started in all, want 4 (1, its reload, 2 scaled up)", started)
	}
	if got := exes(t, f, 3); got[v2] != 3 {
		t.Fatalf("exe = %v, want every worker on %s", got, v2)
	}
}

// Calls waiting for their sticky worker scale the farm up too.
func TestKeyedCallsScaleUp(t *testing.T) {
	k := &forks{online: map[int]bool{}}
	f := newFarm(t, farm.Config{Workers: 3, MinWorkers: 1, MaxConcurrentCallsPerWorker: 1,
		ScaleDownAfter: time.Minute, OnEvent: k.listen})
	var futures []*farm.Future
	for i := range 6 {
		futures = append(futures, f.With(farm.CallOptions{Key: "user-" + strconv.Itoa(i)}).Go(ctx(t), "sleep", 200))
	}
	testutil.Eventually(t, 10*time.Second, "more workers for the keyed calls", func() bool {
		started, _ := k.counts()
		return started > 1
	})
	for _, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
}

// A []byte argument over MaxMessageSize once encoded is refused at once,
// whether the worker takes raw byte slices (Go) or not (the liar, like a
// Node.js worker): no worker dies for it.
func TestRawBytesOverTheLimit(t *testing.T) {
	liar := testutil.MustBuild(t, "./internal/testutil/fixtures/liar")
	for name, path := range map[string]string{"go": workerBin, "liar": liar} {
		t.Run(name, func(t *testing.T) {
			f := newFarm(t, farm.Config{Path: path, Workers: 1, MaxMessageSize: 1 << 20})
			method := "echoBytes"
			if path == liar {
				method = "echo"
			}
			_, err := f.RunMethod(ctx(t), method, make([]byte, 900<<10)) // 1.2 MB in base64
			if !errors.Is(err, farm.ErrTooLarge) {
				t.Errorf("%v, want ErrTooLarge", err)
			}
			if st := f.Stats(); st.WorkersCrashed != 0 {
				t.Errorf("%d workers crashed", st.WorkersCrashed)
			}
		})
	}
}
