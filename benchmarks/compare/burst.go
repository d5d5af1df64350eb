package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// burst submits Calls futures at once and waits for all of them, then
// measures the host's heap per queued call (see bytesPerQueuedCall).
func (r *goRunner) burst() error {
	ctx := context.Background()
	f, err := r.warmFarm(ctx, 0)
	if err != nil {
		return err
	}
	defer f.Kill()
	futures := make([]*farm.Future, r.spec.Calls)
	if err := r.burstOn(f, r.spec.Workload, futures); err != nil {
		return err
	}
	r.stats("burst", f)
	if r.spec.System != goSystem {
		// workestrator-go-node's module has no "block" method; the pinned
		// and remote systems' hosts are workestrator-go's, and a remote
		// worker takes a prefetched call beyond MaxConcurrentCallsPerWorker.
		return nil
	}
	clear(futures)
	bpc, err := r.bytesPerQueuedCall(f, futures)
	if err != nil {
		return err
	}
	r.add(r.spec.Workload, "bytes_per_queued_call", bpc)
	return nil
}

// burstOn submits len(futures) add calls on f at once and waits for all
// of them; its rows are named workload.
func (r *goRunner) burstOn(f *farm.Farm, workload string, futures []*farm.Future) error {
	ctx := context.Background()
	cpu0 := r.cpuTimes(f)
	t0 := time.Now()
	for i := range futures {
		futures[i] = f.Go(ctx, "add", 1, 2, i)
	}
	submitted := time.Since(t0)
	if err := checkAdds(futures); err != nil {
		return err
	}
	el := time.Since(t0)
	cpu1 := r.cpuTimes(f)
	r.add(workload, "calls_per_s", float64(len(futures))/el.Seconds())
	r.cpuRows(workload, len(futures), el, cpu1.minus(cpu0))
	r.info = append(r.info, fmt.Sprintf("%s: submitting %d futures took %v of %v; CPU %s",
		workload, len(futures), submitted.Round(time.Millisecond), el.Round(time.Millisecond), cpu1.since(cpu0)))
	return nil
}

func checkAdds(futures []*farm.Future) error {
	for i, fu := range futures {
		res, err := fu.Result()
		if err != nil {
			return fmt.Errorf("call %d: %w", i, err)
		}
		var v int
		if err := res.Decode(&v); err != nil {
			return fmt.Errorf("call %d: %w", i, err)
		}
		if v != 3+i {
			return fmt.Errorf("add(1, 2, %d) = %d", i, v)
		}
	}
	return nil
}

// bytesPerQueuedCall measures the heap that len(futures) queued calls cost
// the host. Every worker slot is first filled with a "block" call that
// waits for its context, so that no add call can be dispatched; the heap in
// use (HeapAlloc after a forced GC) is read before and after submitting the
// adds, which then all sit in the farm's queue. The futures slice is
// allocated before the first reading: its 8 bytes per call are not counted.
// Cancelling the blockers' context releases the workers.
func (r *goRunner) bytesPerQueuedCall(f *farm.Farm, futures []*farm.Future) (float64, error) {
	gateCtx, release := context.WithCancel(context.Background())
	defer release()
	nGate := r.spec.Workers * r.spec.PerWorker
	gates := make([]*farm.Future, nGate)
	for i := range gates {
		gates[i] = f.Go(gateCtx, "block")
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := f.Stats(); st.InFlight != nGate || st.Queued != 0; st = f.Stats() {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("blocker calls: %d in flight, %d queued after 10 s, want %d and 0", st.InFlight, st.Queued, nGate)
		}
		time.Sleep(time.Millisecond)
	}
	before := heapInUse()
	ctx := context.Background()
	for i := range futures {
		futures[i] = f.Go(ctx, "add", 1, 2, i)
	}
	after := heapInUse()
	st := f.Stats()
	if st.Queued != len(futures) {
		return 0, fmt.Errorf("%d calls queued while the workers were blocked, want %d", st.Queued, len(futures))
	}
	release()
	for i, g := range gates {
		if _, err := g.Result(); !errors.Is(err, context.Canceled) {
			return 0, fmt.Errorf("blocker %d: got %v, want context.Canceled", i, err)
		}
	}
	if err := checkAdds(futures); err != nil {
		return 0, fmt.Errorf("after the blockers: %w", err)
	}
	return float64(int64(after)-int64(before)) / float64(len(futures)), nil
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
