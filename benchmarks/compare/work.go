package main

import (
	"context"
	"fmt"
	"time"

	"github.com/workestrator/workestrator/benchmarks/internal/kernels"
	"github.com/workestrator/workestrator/pkg/farm"
)

// workPoints are the sizes of work64's calls: π chunks of that many
// points (about 15 and 75 µs of CPU here).
var workPoints = []int{2000, 10000}

// work is the work64 workload: 64 in flight, as window64, of calls that
// do some work, a π chunk of each of workPoints, Calls of the smallest
// and proportionally fewer of the others; its rows are work64-2k and
// work64-10k, with call_us, the chunk's time in this process.
func (r *goRunner) work() error {
	f, err := r.warmFarm(context.Background(), 0)
	if err != nil {
		return err
	}
	defer f.Kill()
	for _, p := range workPoints {
		call := func(ctx context.Context, f *farm.Farm, i int) error {
			v, err := farm.Call[int](ctx, f, "pi", uint64(i), p)
			if err == nil && (v < 0 || v > p) {
				err = fmt.Errorf("pi(%d, %d) = %d", i, p, v)
			}
			return err
		}
		w := fmt.Sprintf("work64-%dk", p/1000)
		if err := r.windowOn(f, w, r.spec.Calls*workPoints[0]/p, r.spec.Window, true, call); err != nil {
			return err
		}
		r.add(w, "call_us", chunkTime(p))
	}
	r.stats("work64", f)
	return nil
}

// chunkTime is the median time of a π chunk of p points in this process,
// in µs.
func chunkTime(p int) float64 {
	var ts []float64
	for i := range 21 {
		t := time.Now()
		kernels.PiChunk(uint64(i), p)
		ts = append(ts, float64(time.Since(t).Nanoseconds())/1e3)
	}
	return median(ts)
}
