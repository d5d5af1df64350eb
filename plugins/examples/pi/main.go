// Command pi estimates π by Monte Carlo sampling, first in this process,
// then in a farm of worker processes, and prints both times and the speedup.
//
//	go run ./plugins/examples/pi [-points 2e8] [-chunks 100] [-workers N]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/plugins/examples/internal/exampleutil"
	"github.com/workestrator/workestrator/plugins/examples/pi/montecarlo"
)

type options struct {
	points, chunks, workers int
	progress                io.Writer // nil: no progress bar
}

func main() {
	points := flag.Float64("points", 2e8, "number of random points")
	chunks := flag.Int("chunks", 100, "number of calls the points are split into")
	workers := flag.Int("workers", runtime.NumCPU(), "number of worker processes")
	flag.Parse()
	o := options{points: int(*points), chunks: *chunks, workers: *workers}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		o.progress = os.Stderr
	}
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "pi:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, o options) error {
	if o.points <= 0 || o.chunks <= 0 || o.workers <= 0 || o.chunks > o.points {
		return fmt.Errorf("need 0 < chunks ≤ points and workers > 0")
	}
	per := o.points / o.chunks
	total := per * o.chunks
	fmt.Fprintf(out, "Monte Carlo π with %d points in %d chunks\n", total, o.chunks)

	start := time.Now()
	inside := 0
	for i := range o.chunks {
		inside += montecarlo.Inside(per, uint64(i))
	}
	single := time.Since(start)
	fmt.Fprintf(out, "single process:     π ≈ %.6f in %v\n", montecarlo.Estimate(inside, total), single.Round(time.Millisecond))

	bin, cleanup, err := exampleutil.BuildWorker("github.com/workestrator/workestrator/plugins/examples/pi/worker")
	if err != nil {
		return err
	}
	defer cleanup()
	f, err := farm.New(farm.Config{Path: bin, Workers: o.workers, MaxConcurrentCallsPerWorker: 1})
	if err != nil {
		return err
	}
	defer f.Kill()
	// One small chunk on every worker first, so that the timing below
	// leaves out the workers' start.
	if _, err := f.BroadcastMethod(ctx, "run", 1, uint64(0)); err != nil {
		return err
	}

	start = time.Now()
	futures := make([]*farm.Future, o.chunks)
	for i := range futures {
		futures[i] = f.Go(ctx, "run", per, uint64(i)) // the same seeds: the same estimate
	}
	bar := newBar(o.progress, o.chunks)
	inside = 0
	for i, fu := range futures {
		n, err := decode(fu)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		inside += n
		if bar != nil {
			_ = bar.Add(1)
		}
	}
	farmTime := time.Since(start)
	fmt.Fprintf(out, "farm of %d workers: π ≈ %.6f in %v\n", o.workers, montecarlo.Estimate(inside, total), farmTime.Round(time.Millisecond))
	fmt.Fprintf(out, "speedup: %.2f× on %d CPUs\n", single.Seconds()/farmTime.Seconds(), runtime.NumCPU())
	return f.Shutdown(ctx)
}

func decode(fu *farm.Future) (int, error) {
	r, err := fu.Result()
	if err != nil {
		return 0, err
	}
	var n int
	err = r.Decode(&n)
	return n, err
}

// newBar returns a progress bar over the farm's chunks, drawn in place on w
// with the rate and the time left, or nil when w is nil.
func newBar(w io.Writer, chunks int) *progressbar.ProgressBar {
	if w == nil {
		return nil
	}
	return progressbar.NewOptions(chunks,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("farm"),
		progressbar.OptionSetWidth(40),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("chunks"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
