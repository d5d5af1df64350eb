package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/benchmarks/internal/kernels"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// runGo runs one workload on workestrator-go in this (child) process.
func runGo(spec Spec, profile string) (Output, error) {
	r := goRunner{spec: spec, profile: profile}
	defer r.cleanup()
	var err error
	switch w := spec.Workload; {
	case w == "seq":
		err = r.seq()
	case w == "window64":
		err = r.window(0)
	case w == "burst200k":
		err = r.burst()
	case w == "ttl1000":
		err = r.window(spec.TTL)
	case w == "pi":
		err = r.pi()
	case w == "startup":
		err = r.startup()
	case w == "images":
		err = r.images()
	case w == "remote-scale":
		err = r.remoteScale()
	case w == "work64":
		err = r.work()
	case strings.HasPrefix(w, "payload-"):
		// The AppendCall row, which only shared memory makes different,
		// runs between the other two.
		reuse := r.spec.Size >= wire.ShmMin && r.spec.System == goSystem
		if err = r.payload(serializer.JSON, false); err == nil && reuse {
			err = r.payload(serializer.JSON, true)
		}
		if err == nil {
			err = r.payload(serializer.CBOR, false)
		}
	default:
		return Output{Skip: "unknown workload " + w}, nil
	}
	if r.skip != "" && err == nil {
		return Output{Skip: r.skip}, nil
	}
	return Output{Rows: r.rows, Info: strings.Join(r.info, "; ")}, err
}

type goRunner struct {
	spec    Spec
	profile string // the host's CPU profile, "" if none
	rows    []Row
	info    []string
	// agents are the agent processes of workestrator-go-remote, stopped by
	// cleanup, after the farm.
	agents    []*agentProc
	natsToken string
	undo      []func()
	// skip, when set, is why the run could not be made here.
	skip string
}

// cleanup undoes what the run set up besides its farm (agents, network
// namespaces), last first.
func (r *goRunner) cleanup() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
	r.undo = nil
}

func (r *goRunner) add(workload, metric string, v float64) {
	r.rows = append(r.rows, Row{Workload: workload, Metric: metric, Value: v})
}

// newFarm starts the farm of the run's system: local workers (pinned to
// the workers' CPU for workestrator-go-pinned), or, for
// workestrator-go-remote, a farm of no local worker and one agent.
func (r *goRunner) newFarm(ser serializer.Serializer, ttl int) (*farm.Farm, error) {
	if r.spec.System == goRemoteSystem {
		return r.remoteFarm(ser, 1, "127.0.0.1:0")
	}
	cfg := farm.Config{
		Path:                        r.spec.WorkerPath,
		Args:                        r.spec.WorkerArgs,
		Workers:                     r.spec.Workers,
		MaxConcurrentCallsPerWorker: r.spec.PerWorker,
		TTL:                         ttl,
		Serializer:                  ser,
		Env:                         r.workerEnv(),
		Logger:                      logger(),
	}
	if r.spec.System == goPinnedSystem {
		// taskset execs the worker: the farm's child is the worker itself.
		cfg.Path = r.spec.Taskset
		cfg.Args = append([]string{"-c", r.spec.WorkerCPU, r.spec.WorkerPath}, r.spec.WorkerArgs...)
	}
	return farm.New(cfg)
}

func logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "workestrator", Level: hclog.Error, Output: os.Stderr})
}

// workerEnv passes the -cpuprofile prefix on to the workers.
func (r *goRunner) workerEnv() []string {
	if r.profile == "" {
		return nil
	}
	return []string{"BENCH_WORKER_CPUPROFILE=" + strings.TrimSuffix(r.profile, ".pprof") + "-worker"}
}

// stats summarises where a farm's time went, for -v.
func (r *goRunner) stats(label string, f *farm.Farm) {
	st := f.Stats()
	r.info = append(r.info, fmt.Sprintf("%s: queue wait p50 %v p99 %v, run time p50 %v p99 %v, retried %d, failed %d, workers started %d, recycled %d",
		label, st.QueueWait.P50, st.QueueWait.P99, st.RunTime.P50, st.RunTime.P99,
		st.Retried, st.Failed, st.WorkersStarted, st.WorkersRecycled))
}

func addCall(ctx context.Context, f *farm.Farm, i int) error {
	v, err := farm.Call[int](ctx, f, "add", 1, 2, i)
	if err != nil {
		return err
	}
	if v != 3+i {
		return fmt.Errorf("add(1, 2, %d) = %d", i, v)
	}
	return nil
}

// warmFarm starts a farm (JSON, the given TTL) and makes a first call on
// every worker, as the peers' runners do.
func (r *goRunner) warmFarm(ctx context.Context, ttl int) (*farm.Farm, error) {
	f, err := r.newFarm(nil, ttl)
	if err != nil {
		return nil, err
	}
	if _, err := f.BroadcastMethod(ctx, "add", 1, 2, 3); err != nil {
		f.Kill()
		return nil, err
	}
	return f, nil
}

func (r *goRunner) seq() error {
	ctx := context.Background()
	f, err := r.newFarm(nil, 0)
	if err != nil {
		return err
	}
	defer f.Kill()
	for i := range r.spec.Warmup {
		if err := addCall(ctx, f, i); err != nil {
			return err
		}
	}
	// workestrator-go-remote also measures the bare NATS hop, in blocks
	// that alternate with the calls' so that both see the same machine.
	var hop *natsHop
	if r.spec.System == goRemoteSystem {
		if hop, err = r.startHop(); err != nil {
			return err
		}
		defer hop.stop()
	}
	lat := make([]float64, r.spec.Calls)
	var hopLat []float64
	var total time.Duration
	var used cpuDelta
	all0 := r.cpuTimes(f)
	for start := 0; start < len(lat); start += seqBlock {
		cpu0 := r.cpuTimes(f)
		t0 := time.Now()
		for i := start; i < min(start+seqBlock, len(lat)); i++ {
			t := time.Now()
			if err := addCall(ctx, f, i); err != nil {
				return err
			}
			lat[i] = float64(time.Since(t).Nanoseconds()) / 1e3
		}
		total += time.Since(t0)
		used = used.plus(r.cpuTimes(f).minus(cpu0))
		if hop != nil {
			if hopLat, err = hop.requests(hopLat, seqBlock); err != nil {
				return err
			}
		}
	}
	r.info = append(r.info, "CPU "+r.cpuTimes(f).since(all0))
	slices.Sort(lat)
	r.add(r.spec.Workload, "p50_us", percentile(lat, 0.50))
	r.add(r.spec.Workload, "p99_us", percentile(lat, 0.99))
	r.add(r.spec.Workload, "calls_per_s", float64(len(lat))/total.Seconds())
	r.cpuRows(r.spec.Workload, len(lat), total, used)
	if hop != nil {
		slices.Sort(hopLat)
		r.add(r.spec.Workload, "nats_hop_p50_us", percentile(hopLat, 0.50))
		r.add(r.spec.Workload, "nats_hop_p99_us", percentile(hopLat, 0.99))
	}
	r.stats("seq", f)
	return nil
}

// seqBlock is how many calls seq makes between two readings of the CPU
// times (and, for workestrator-go-remote, two blocks of NATS hops).
const seqBlock = 250

func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// window runs Calls calls from Window goroutines, each making one call at
// a time, on a farm with the given TTL.
func (r *goRunner) window(ttl int) error {
	f, err := r.warmFarm(context.Background(), ttl)
	if err != nil {
		return err
	}
	defer f.Kill()
	if err := r.windowOn(f, r.spec.Workload, r.spec.Calls, r.spec.Window, ttl == 0, addCall); err != nil {
		return err
	}
	r.stats(r.spec.Workload, f)
	return nil
}

// windowOn runs calls calls (call(ctx, f, i), addCall for most) on f from
// window goroutines, each making one call at a time; its rows are named
// workload, with the CPU used if cpu.
func (r *goRunner) windowOn(f *farm.Farm, workload string, calls, window int, cpu bool, call func(context.Context, *farm.Farm, int) error) error {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, window)
	n := int64(calls)
	cpu0 := r.cpuTimes(f)
	t0 := time.Now()
	for g := range window {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				if err := call(ctx, f, int(i)); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	cpu1 := r.cpuTimes(f)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.add(workload, "calls_per_s", float64(n)/el.Seconds())
	if cpu {
		r.cpuRows(workload, int(n), el, cpu1.minus(cpu0))
		r.info = append(r.info, workload+": CPU "+cpu1.since(cpu0))
	}
	return nil
}

func (r *goRunner) pi() error {
	per := r.spec.Points / r.spec.Chunks
	base := min(max(r.spec.BaselineChunks, 1), r.spec.Chunks)
	ctx := context.Background()
	f, err := r.warmFarm(ctx, 0)
	if err != nil {
		return err
	}
	defer f.Kill()
	// The single-process run, the farm run and an in-process run on one
	// goroutine per worker follow each other, three times; each triple
	// gives its own speedups and the medians are kept. The machine's speed
	// drifts by tens of per cent within seconds, so only runs side by side
	// make a fair ratio. The goroutine run is the machine's ceiling for this
	// kernel: no process, no serialization, the same code on every core.
	var singles, farmMS, speedups, ceilings []float64
	inside := 0
	for range 3 {
		var singleMS float64
		if r.spec.System == goNodeSystem {
			// The workers run JavaScript: the baseline is the same kernel
			// in one Node.js process, as node-worker-farm's row measures it.
			ms, err := nodeSingleMS(r.spec.WorkerArgs[0], base, per)
			if err != nil {
				return err
			}
			singleMS = ms * float64(r.spec.Chunks) / float64(base)
		} else {
			t0 := time.Now()
			for i := range base {
				kernels.PiChunk(uint64(i), per)
			}
			singleMS = float64(time.Since(t0).Nanoseconds()) / 1e6 * float64(r.spec.Chunks) / float64(base)
		}

		t0 := time.Now()
		futures := make([]*farm.Future, r.spec.Chunks)
		for i := range futures {
			futures[i] = f.Go(ctx, "pi", uint64(i), per)
		}
		inside = 0
		for _, fu := range futures {
			res, err := fu.Result()
			if err != nil {
				return err
			}
			var n int
			if err := res.Decode(&n); err != nil {
				return err
			}
			inside += n
		}
		ms := float64(time.Since(t0).Nanoseconds()) / 1e6

		singles = append(singles, singleMS)
		farmMS = append(farmMS, ms)
		speedups = append(speedups, singleMS/ms)
		if r.spec.System == goNodeSystem {
			continue // the goroutines' ceiling is Go's, not JavaScript's
		}

		t0 = time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range r.spec.Workers {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(r.spec.Chunks); i = next.Add(1) - 1 {
					kernels.PiChunk(uint64(i), per)
				}
			})
		}
		wg.Wait()
		goroutinesMS := float64(time.Since(t0).Nanoseconds()) / 1e6
		ceilings = append(ceilings, singleMS/goroutinesMS)
	}
	if pi := 4 * float64(inside) / float64(per*r.spec.Chunks); math.Abs(pi-math.Pi) > 0.01 {
		return fmt.Errorf("pi = %v", pi)
	}
	r.add("pi", "ms", median(farmMS))
	r.add("pi", "speedup", median(speedups))
	r.add("pi", "single_ms", median(singles))
	if len(ceilings) > 0 {
		r.add("pi", "ceiling_speedup", median(ceilings))
	}
	return nil
}

// nodeSingleMS runs chunks π chunks of per points, in one Node.js process,
// with the kernels.js beside the worker module at module, and returns the
// milliseconds they took.
func nodeSingleMS(module string, chunks, per int) (float64, error) {
	script := `const { piChunk } = require(process.argv[1]);
const n = Number(process.argv[2]), per = Number(process.argv[3]);
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) piChunk(i, per);
console.log(Number(process.hrtime.bigint() - t0) / 1e6);`
	kernelsJS := filepath.Join(filepath.Dir(module), "kernels.js")
	out, err := exec.Command("node", "-e", script, kernelsJS, strconv.Itoa(chunks), strconv.Itoa(per)).Output()
	if err != nil {
		return 0, fmt.Errorf("node single-process π baseline: %w", err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

func (r *goRunner) startup() error {
	ctx := context.Background()
	t0 := time.Now()
	f, err := r.newFarm(nil, 0)
	if err != nil {
		return err
	}
	defer f.Kill()
	if err := addCall(ctx, f, 0); err != nil { // New → first answer, as for the peers
		return err
	}
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	for i := range 64 {
		if err := addCall(ctx, f, i); err != nil {
			return err
		}
	}
	time.Sleep(200 * time.Millisecond)
	var sum float64
	ws := f.Stats().Workers
	if len(ws) != r.spec.Workers {
		return fmt.Errorf("stats list %d workers, want %d", len(ws), r.spec.Workers)
	}
	for _, w := range ws {
		mb, err := vmRSSMB(w.PID)
		if err != nil {
			return err
		}
		sum += mb
	}
	r.add("startup", "ms", ms)
	r.add("startup", "rss_mb", sum/float64(len(ws)))
	return nil
}

// vmRSSMB reads a process's resident set size from /proc/<pid>/status.
func vmRSSMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fs := strings.Fields(rest)
			kb, err := strconv.ParseFloat(fs[0], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// payload echoes a Size-byte []byte Calls times with Window calls
// outstanding, with the given serializer; the workload's rows get the
// serializer's name as a suffix. With reuse, each caller gets its results
// with farm.AppendCall into one buffer of its own, and the rows the
// suffix "append".
func (r *goRunner) payload(ser serializer.Serializer, reuse bool) error {
	ctx := context.Background()
	f, err := r.newFarm(ser, 0)
	if err != nil {
		return err
	}
	defer f.Kill()
	payload := make([]byte, r.spec.Size)
	for i := range payload {
		payload[i] = 'x'
	}
	echo := func(buf *[]byte) error {
		var b []byte
		var err error
		if buf != nil {
			b, err = farm.AppendCall(ctx, f, (*buf)[:0], "echo", payload)
			*buf = b
		} else {
			b, err = farm.Call[[]byte](ctx, f, "echo", payload)
		}
		if err != nil {
			return err
		}
		if len(b) != len(payload) {
			return fmt.Errorf("echo returned %d bytes, want %d", len(b), len(payload))
		}
		return nil
	}
	bufs := make([][]byte, r.spec.Window)
	if reuse {
		for g := range bufs {
			bufs[g] = make([]byte, 0, len(payload))
		}
	}
	// window runs n echoes, r.spec.Window at a time.
	window := func(n int64) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, r.spec.Window)
		for g := range r.spec.Window {
			wg.Go(func() {
				var buf *[]byte
				if reuse {
					buf = &bufs[g]
				}
				for next.Add(1) <= n {
					if err := echo(buf); err != nil {
						errs[g] = err
						return
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if err := window(int64(max(r.spec.Warmup, 1))); err != nil {
		return err
	}
	n := int64(r.spec.Calls)
	t0 := time.Now()
	if err := window(n); err != nil {
		return err
	}
	el := time.Since(t0)
	for _, b := range bufs {
		if reuse && !bytes.Equal(b, payload) {
			return errors.New("AppendCall's last result is not the payload")
		}
	}
	w := r.spec.Workload + "-" + ser.Name()
	if reuse {
		w = r.spec.Workload + "-append"
	}
	r.add(w, "mb_per_s", float64(r.spec.Size)*float64(n)/el.Seconds()/1e6)
	r.stats(w, f)
	return nil
}
