package farm_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// workerGC collects in f's worker until ok holds for its GC percent and
// heap goal (the floor retunes after each collection, on the worker's
// finalizer goroutine), or fails the test after a deadline.
func workerGC(t *testing.T, f *farm.Farm, ok func(percent, goal uint64) bool) (uint64, uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := farm.Call[[2]uint64](ctx(t), f, "gc")
		if err != nil {
			t.Fatal(err)
		}
		if ok(v[0], v[1]) {
			return v[0], v[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker's GC percent is %d and its heap goal %d bytes", v[0], v[1])
		}
	}
}

// A Go worker's heap goal is held at the floor: the default 32 MiB, a
// Config.WorkerHeapFloor, a quarter of a lower memory limit, or Env's; none when
// it is off or when the environment sets GOGC.
func TestWorkerHeapFloor(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	const mib = 1 << 20
	near := func(floor uint64) func(p, goal uint64) bool {
		return func(p, goal uint64) bool { return p > 100 && goal >= floor*9/10 && goal <= floor+2*mib }
	}
	for _, c := range []struct {
		name string
		cfg  farm.Config
		ok   func(percent, goal uint64) bool
	}{
		{"default", farm.Config{}, near(farm.DefaultWorkerHeapFloor)},
		{"64MiB", farm.Config{WorkerHeapFloor: 64 * mib}, near(64 * mib)},
		{"soft limit", farm.Config{MaxWorkerMemory: 80 * mib}, near(20 * mib)},
		{"hard limit", farm.Config{MaxWorkerMemoryHard: 80 * mib}, near(20 * mib)},
		{"both limits", farm.Config{MaxWorkerMemory: 100 * mib, MaxWorkerMemoryHard: 160 * mib}, near(25 * mib)},
		{"explicit under limits", farm.Config{MaxWorkerMemory: 60 * mib, MaxWorkerMemoryHard: 80 * mib, WorkerHeapFloor: 30 * mib}, near(30 * mib)},
		{"env wins", farm.Config{WorkerHeapFloor: 64 * mib, Env: []string{fmt.Sprintf("WORKESTRATOR_HEAP_FLOOR_BYTES=%d", 16*mib)}}, near(16 * mib)},
		{"off", farm.Config{WorkerHeapFloor: farm.WorkerHeapFloorOff}, func(p, goal uint64) bool { return p == 100 && goal < 16*mib }},
		{"GOGC", farm.Config{Env: []string{"GOGC=50"}}, func(p, goal uint64) bool { return p == 50 && goal < 16*mib }},
		{"GOMEMLIMIT", farm.Config{Env: []string{"GOMEMLIMIT=1GiB"}}, func(p, goal uint64) bool { return p == 100 && goal < 16*mib }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Workers = 1
			f := newFarm(t, cfg)
			workerGC(t, f, c.ok)
		})
	}
}

// A worker that sets its GC percent itself ends the floor: the percent it
// set stays.
func TestWorkerHeapFloorYields(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	f := newFarm(t, farm.Config{Workers: 1})
	workerGC(t, f, func(p, _ uint64) bool { return p > 100 })
	if _, err := farm.Call[any](ctx(t), f, "setgc", 150); err != nil && !errors.Is(err, farm.ErrNoResult) {
		t.Fatal(err)
	}
	for range 5 {
		if p, _ := workerGC(t, f, func(uint64, uint64) bool { return true }); p != 150 {
			t.Fatalf("the worker's GC percent is %d after it set 150", p)
		}
	}
}

// A Go worker refuses a floor it cannot read, naming the variable.
func TestWorkerHeapFloorBadValue(t *testing.T) {
	startFails(t, farm.Config{Path: workerBin, Workers: 1, Env: []string{"WORKESTRATOR_HEAP_FLOOR_BYTES=lots"}},
		nil, `WORKESTRATOR_HEAP_FLOOR_BYTES="lots"`)
}
