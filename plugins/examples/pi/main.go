// Command pi estimates π by Monte Carlo sampling, first in this process,
// then in a farm of worker processes, and prints both times, the number of
// points the farm counted and the speedup.
//
//	go run ./plugins/examples/pi [-points 2e8] [-chunks 100] [-workers N] [-agents N]
//
// The points are split into -chunks calls whose sizes differ by at most
// one, each with its own seed, so the farm's estimate is the same as the
// single process's, and the points counted are exactly -points.
//
// # Scale-out
//
// With -agents N, the farm has no local worker: it embeds a NATS server on
// loopback and draws its workers from N agents, child processes of this
// command, each a `workestrator serve` with -workers workers (default
// NumCPU/N, at least 1). This is scale-out on one machine; agents on other
// machines join a farm the same way (see farm.RemoteConfig). The command
// also prints how many chunks each agent ran.
//
// An agent that dies (SIGKILL) or freezes (SIGSTOP) in the middle of the
// run does not stop the job: the farm loses it after three missed
// heartbeats (200 ms each) and runs its chunks again on the others; every
// chunk is counted once. Once every agent has died the command fails;
// while they are all frozen, the calls wait (interrupt it). The agents are
// killed and reaped when the command exits, on an error or on SIGINT as
// well (and by the kernel should the command itself be killed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/plugins/examples/internal/exampleutil"
	"github.com/workestrator/workestrator/plugins/examples/pi/montecarlo"
)

const (
	workerPkg       = "github.com/workestrator/workestrator/plugins/examples/pi/worker"
	workestratorPkg = "github.com/workestrator/workestrator/cmd/workestrator"
)

type options struct {
	points, chunks int
	// workers is the number of worker processes, per agent with agents; 0
	// means NumCPU, shared among the agents (at least 1 each).
	workers int
	// agents is the number of agents; 0 means local workers.
	agents   int
	progress io.Writer // nil: no progress bar
}

// errFlag marks an error the flag package reported with the usage.
var errFlag = errors.New("bad flag")

// maxChunks bounds -chunks: each chunk is a call held in memory.
const maxChunks = 1_000_000

// maxPoints bounds -points: a float64 (1e8 is welcome) holds every whole
// number up to 2^53.
const maxPoints = 1 << 53

func main() {
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if !errors.Is(err, errFlag) {
			fmt.Fprintln(os.Stderr, "pi:", err) // the flag package printed its own
		}
		os.Exit(2)
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		o.progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Stdout, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pi:", err)
		os.Exit(1)
	}
}

// parseOptions parses the command line args; a bad value is an error that
// names its flag.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("pi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	points := &pointsValue{v: 2e8, raw: "2e8"}
	fs.Var(points, "points", "number of random points, a whole `number` such as 2e8")
	chunks := fs.Int("chunks", 100, fmt.Sprintf("number of calls the points are split into (at most %d)", maxChunks))
	workers := fs.Int("workers", 0, "number of worker processes, per agent with -agents (default NumCPU, shared among the agents)")
	agents := fs.Int("agents", 0, "number of local agents (workestrator serve) to run the farm's workers, over NATS (0: local workers)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return options{}, err
		}
		return options{}, fmt.Errorf("%w: %v", errFlag, err)
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	p := points.v
	if math.IsNaN(p) || p < 1 || p > maxPoints || p != math.Trunc(p) {
		return options{}, fmt.Errorf("-points %v: want a whole number from 1 to 2^53", p)
	}
	// A whole number written out is taken exactly, not rounded to the
	// float it parses as.
	if n, err := strconv.ParseUint(points.raw, 10, 64); (err == nil && n > maxPoints) || errors.Is(err, strconv.ErrRange) {
		return options{}, fmt.Errorf("-points %s: want a whole number from 1 to 2^53", points.raw)
	}
	o := options{points: int(p), chunks: *chunks, workers: *workers, agents: *agents}
	chunksGiven := false
	fs.Visit(func(f *flag.Flag) { chunksGiven = chunksGiven || f.Name == "chunks" })
	if !chunksGiven {
		o.chunks = min(o.chunks, o.points) // fewer points than the default chunks
	}
	return o, nil
}

// pointsValue is the -points flag: a number, and the text it was given as.
type pointsValue struct {
	v   float64
	raw string
}

func (p *pointsValue) String() string {
	if p.raw != "" {
		return p.raw
	}
	return strconv.FormatFloat(p.v, 'g', -1, 64)
}

func (p *pointsValue) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return errors.New("parse error")
	}
	p.v, p.raw = v, s
	return nil
}

// check reports the first option out of its range, naming its flag.
func (o options) check() error {
	switch {
	case o.points <= 0:
		return fmt.Errorf("-points %d: want at least 1", o.points)
	case o.chunks <= 0 || o.chunks > o.points || o.chunks > maxChunks:
		return fmt.Errorf("-chunks %d: want 1 to -points (%d), at most %d", o.chunks, o.points, maxChunks)
	case o.workers < 0:
		return fmt.Errorf("-workers %d: want 0 (NumCPU) or more", o.workers)
	case o.agents < 0:
		return fmt.Errorf("-agents %d: want 0 (local workers) or more", o.agents)
	}
	return nil
}

func run(ctx context.Context, out io.Writer, o options) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.workers == 0 {
		o.workers = max(1, runtime.NumCPU()/max(1, o.agents))
	}
	sizes := chunkSizes(o.points, o.chunks)
	fmt.Fprintf(out, "Monte Carlo π with %s in %s\n", plural(o.points, "point"), plural(o.chunks, "chunk"))

	start := time.Now()
	single := 0
	for i, n := range sizes {
		if err := ctx.Err(); err != nil {
			return err
		}
		single += montecarlo.Inside(n, uint64(i))
	}
	singleTime := time.Since(start)
	fmt.Fprintf(out, "single process:     π ≈ %.6f in %v\n", montecarlo.Estimate(single, o.points), singleTime.Round(time.Millisecond))

	pkgs := []string{workerPkg}
	if o.agents > 0 {
		pkgs = append(pkgs, workestratorPkg)
	}
	bins, cleanup, err := exampleutil.Build(pkgs...)
	if err != nil {
		return err
	}
	defer cleanup()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := newTally(o.chunks)
	var f *farm.Farm
	var ag *agents
	if o.agents == 0 {
		f, err = farm.New(farm.Config{Path: bins[0], Workers: o.workers, MaxConcurrentCallsPerWorker: 1})
	} else if ag, err = startAgents(ctx, cancel, bins[1], bins[0], o.agents, o.workers, t); err == nil {
		f = ag.farm
	}
	if err != nil {
		return err
	}
	defer ag.stop() // after Kill: the farm says goodbye to them first
	defer f.Kill()
	if ag != nil {
		fmt.Fprintf(out, "agents joined:      %s, %s each\n", ag.names(), plural(o.workers, "worker"))
	}
	// One small chunk on every worker first, so that the timing below
	// leaves out the workers' start.
	if _, err := f.BroadcastMethod(ctx, "run", 1, uint64(0)); err != nil {
		return err
	}
	t.arm(f.Stats().Submitted)

	start = time.Now()
	futures := make([]*farm.Future, o.chunks)
	for i, n := range sizes {
		futures[i] = f.Go(ctx, "run", n, uint64(i)) // the same seeds: the same estimate
	}
	inside, counted, err := collect(ctx, futures, sizes, newBar(o.progress, o.chunks))
	if err != nil {
		return err
	}
	farmTime := time.Since(start)
	workers := plural(o.workers, "worker")
	if ag != nil {
		workers = plural(o.workers*o.agents, "worker") + " on " + plural(o.agents, "agent")
	}
	fmt.Fprintf(out, "farm of %s: π ≈ %.6f in %v\n", workers, montecarlo.Estimate(inside, o.points), farmTime.Round(time.Millisecond))
	fmt.Fprintf(out, "points counted: %d\n", counted)
	if counted != o.points {
		return fmt.Errorf("%d points counted of %d", counted, o.points)
	}
	if ag != nil {
		if err := t.wait(ctx); err != nil {
			return err
		}
		for _, a := range ag.list {
			ran, lost := t.of(a.name)
			fmt.Fprintf(out, "%-19s %s", a.name+":", plural(ran, "chunk"))
			if lost > 0 {
				fmt.Fprintf(out, ", %d lost and run again elsewhere", lost)
			}
			fmt.Fprintln(out)
		}
	}
	fmt.Fprintf(out, "speedup: %.2f× on %d CPUs\n", singleTime.Seconds()/farmTime.Seconds(), runtime.NumCPU())
	ag.drain() // while the farm's server still runs: the agents leave quietly
	return f.Shutdown(ctx)
}

// collect waits for the chunks' answers and adds up the points inside
// the quarter circle and the points counted. It counts each chunk once, by
// its index, as it is answered: a future gives one answer, and it checks
// that. The bar, when not nil, shows the progress.
func collect(ctx context.Context, futures []*farm.Future, sizes []int, bar *progressbar.ProgressBar) (inside, counted int, err error) {
	type answer struct {
		chunk, inside int
		err           error
	}
	answers := make(chan answer, len(futures)) // no sender waits once collect returned
	for i, fu := range futures {
		go func() {
			n, err := decode(fu)
			answers <- answer{i, n, err}
		}()
	}
	done := make([]bool, len(futures))
	for range futures {
		a := <-answers
		if a.err != nil {
			if ctx.Err() != nil {
				a.err = context.Cause(ctx)
			}
			return 0, 0, fmt.Errorf("chunk %d: %w", a.chunk, a.err)
		}
		if done[a.chunk] {
			return 0, 0, fmt.Errorf("chunk %d answered twice", a.chunk)
		}
		done[a.chunk] = true
		inside += a.inside
		counted += sizes[a.chunk]
		if bar != nil {
			_ = bar.Add(1)
		}
	}
	return inside, counted, nil
}

// chunkSizes splits points into chunks sizes that differ by at most one
// and add up to points.
func chunkSizes(points, chunks int) []int {
	sizes := make([]int, chunks)
	for i := range sizes {
		sizes[i] = points / chunks
		if i < points%chunks {
			sizes[i]++
		}
	}
	return sizes
}

// plural returns "1 chunk", "2 chunks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
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
