// Command node runs a Node.js module in a farm: the π example's calc
// module (calc.js), served by the Node.js SDK's worker. It calls the
// module's default method with Run, a named method with RunMethod, every
// worker with Broadcast, and checks the farm's estimate against the same
// chunks counted in Go.
//
// Run it from the repository root once the SDK's dependencies are
// installed (cd sdk/node && npm ci):
//
//	go run ./plugins/examples/node [-points 2e6] [-chunks 20] [-workers N]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/plugins/examples/pi/montecarlo"
)

type options struct {
	worker, module          string
	points, chunks, workers int
}

func main() {
	var o options
	flag.StringVar(&o.worker, "worker", "sdk/node/bin/workestrator-worker", "the Node.js SDK's worker executable")
	flag.StringVar(&o.module, "module", "plugins/examples/node/calc.js", "the module the workers serve")
	points := flag.Float64("points", 2e6, "number of random points")
	flag.IntVar(&o.chunks, "chunks", 20, "number of calls the points are split into")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "number of worker processes")
	flag.Parse()
	o.points = int(*points)
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		os.Exit(1)
	}
}

// info is what calc.js's info method answers.
type info struct {
	PID  int    `json:"pid"`
	Node string `json:"node"`
}

func run(ctx context.Context, out io.Writer, o options) error {
	if o.points <= 0 || o.chunks <= 0 || o.workers <= 0 || o.chunks > o.points {
		return fmt.Errorf("need 0 < chunks ≤ points and workers > 0")
	}
	f, err := farm.New(farm.Config{
		Path:    o.worker,
		Args:    []string{o.module},
		Workers: o.workers,
	})
	if err != nil {
		return err
	}
	defer f.Kill()

	// Broadcast: the named method "info" on every worker.
	replies, err := f.BroadcastMethod(ctx, "info")
	if err != nil {
		return err
	}
	var pids []int
	for _, r := range replies {
		if r.Err != nil {
			return fmt.Errorf("worker %d: %w", r.Slot, r.Err)
		}
		var in info
		if err := r.Result.Decode(&in); err != nil {
			return err
		}
		pids = append(pids, in.PID)
		fmt.Fprintf(out, "worker %d: pid %d, Node.js %s\n", r.Slot, in.PID, in.Node)
	}
	slices.Sort(pids)
	if len(slices.Compact(pids)) != o.workers {
		return fmt.Errorf("broadcast answered by pids %v, want %d distinct", pids, o.workers)
	}

	// RunMethod: the same named method on whichever worker is free.
	r, err := f.RunMethod(ctx, "info")
	if err != nil {
		return err
	}
	var in info
	if err := r.Decode(&in); err != nil {
		return err
	}
	fmt.Fprintf(out, "RunMethod(\"info\") answered by one of them: %v\n", slices.Contains(pids, in.PID))

	// Run: the module's default export, one call per chunk.
	per := o.points / o.chunks
	total := per * o.chunks
	futures := make([]*farm.TypedFuture[int], o.chunks)
	for i := range futures {
		futures[i] = farm.GoCall[int](ctx, f, farm.DefaultMethod, per, i)
	}
	inside, inGo := 0, 0
	for i, fu := range futures {
		n, err := fu.Result()
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		inside += n
		inGo += montecarlo.Inside(per, uint64(i))
	}
	fmt.Fprintf(out, "π ≈ %.6f from %d points in %d chunks on %d Node.js workers\n",
		montecarlo.Estimate(inside, total), total, o.chunks, o.workers)
	fmt.Fprintf(out, "the same count as Go's montecarlo.Inside: %v\n", inside == inGo)
	if inside != inGo {
		return fmt.Errorf("the Node.js workers counted %d points inside, Go %d", inside, inGo)
	}
	return f.Shutdown(ctx)
}
