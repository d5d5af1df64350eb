package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/benchmarks/internal/kernels"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// runGo runs one workload on workestrator-go in this (child) process.
func runGo(spec Spec, profile string) (Output, error) {
	r := goRunner{spec: spec, profile: profile}
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
	case strings.HasPrefix(w, "payload-"):
		if err = r.payload(serializer.JSON); err == nil {
			err = r.payload(serializer.CBOR)
		}
	default:
		return Output{Skip: "unknown workload " + w}, nil
	}
	return Output{Rows: r.rows, Info: strings.Join(r.info, "; ")}, err
}

type goRunner struct {
	spec    Spec
	profile string // the host's CPU profile, "" if none
	rows    []Row
	info    []string
}

func (r *goRunner) add(workload, metric string, v float64) {
	r.rows = append(r.rows, Row{Workload: workload, Metric: metric, Value: v})
}

func (r *goRunner) newFarm(ser serializer.Serializer, ttl int) (*farm.Farm, error) {
	return farm.New(farm.Config{
		Path:                        r.spec.WorkerPath,
		Args:                        r.spec.WorkerArgs,
		Workers:                     r.spec.Workers,
		MaxConcurrentCallsPerWorker: r.spec.PerWorker,
		TTL:                         ttl,
		Serializer:                  ser,
		Env:                         r.workerEnv(),
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "workestrator", Level: hclog.Error, Output: os.Stderr,
		}),
	})
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
	lat := make([]float64, r.spec.Calls)
	cpu0 := cpuTimes(f)
	t0 := time.Now()
	for i := range lat {
		t := time.Now()
		if err := addCall(ctx, f, i); err != nil {
			return err
		}
		lat[i] = float64(time.Since(t).Nanoseconds()) / 1e3
	}
	total := time.Since(t0)
	slices.Sort(lat)
	r.add(r.spec.Workload, "p50_us", percentile(lat, 0.50))
	r.add(r.spec.Workload, "p99_us", percentile(lat, 0.99))
	r.add(r.spec.Workload, "calls_per_s", float64(len(lat))/total.Seconds())
	r.info = append(r.info, "CPU "+cpuTimes(f).since(cpu0))
	r.stats("seq", f)
	return nil
}

func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// window runs Calls calls from Window goroutines, each making one call at
// a time, on a farm with the given TTL.
func (r *goRunner) window(ttl int) error {
	ctx := context.Background()
	f, err := r.warmFarm(ctx, ttl)
	if err != nil {
		return err
	}
	defer f.Kill()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, r.spec.Window)
	n := int64(r.spec.Calls)
	cpu0 := cpuTimes(f)
	t0 := time.Now()
	for g := range r.spec.Window {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				if err := addCall(ctx, f, int(i)); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.add(r.spec.Workload, "calls_per_s", float64(n)/el.Seconds())
	if ttl == 0 {
		r.info = append(r.info, "CPU "+cpuTimes(f).since(cpu0))
	}
	r.stats(r.spec.Workload, f)
	return nil
}

// cpuUse is the CPU time used so far by this process and by each worker.
type cpuUse struct {
	host    time.Duration
	workers map[int]time.Duration // by pid
}

func cpuTimes(f *farm.Farm) cpuUse {
	u := cpuUse{workers: map[int]time.Duration{}}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.host = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, w := range f.Stats().Workers {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", w.PID))
		if err != nil {
			continue
		}
		s := string(b)
		fs := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fs) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fs[11], 10, 64) // utime, in clock ticks (100 Hz)
		st, _ := strconv.ParseInt(fs[12], 10, 64) // stime
		u.workers[w.PID] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return u
}

// since describes the CPU time used between u0 and u: the host's, then
// each worker's that lived through both readings.
func (u cpuUse) since(u0 cpuUse) string {
	s := fmt.Sprintf("host %v", (u.host - u0.host).Round(time.Millisecond))
	for pid, t := range u.workers {
		if t0, ok := u0.workers[pid]; ok {
			s += fmt.Sprintf(", worker %d %v", pid, (t - t0).Round(time.Millisecond))
		}
	}
	return s
}

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
	cpu0 := cpuTimes(f)
	t0 := time.Now()
	for i := range futures {
		futures[i] = f.Go(ctx, "add", 1, 2, i)
	}
	submitted := time.Since(t0)
	if err := checkAdds(futures); err != nil {
		return err
	}
	el := time.Since(t0)
	r.add(r.spec.Workload, "calls_per_s", float64(len(futures))/el.Seconds())
	r.info = append(r.info, fmt.Sprintf("submitting %d futures took %v of %v; CPU %s",
		len(futures), submitted.Round(time.Millisecond), el.Round(time.Millisecond), cpuTimes(f).since(cpu0)))
	r.stats("burst", f)
	if r.spec.System == goNodeSystem {
		return nil // its module has no "block" method: the host's bytes per call are workestrator-go's
	}
	clear(futures)
	bpc, err := r.bytesPerQueuedCall(f, futures)
	if err != nil {
		return err
	}
	r.add(r.spec.Workload, "bytes_per_queued_call", bpc)
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
		t0 := time.Now()
		for i := range base {
			kernels.PiChunk(uint64(i), per)
		}
		singleMS := float64(time.Since(t0).Nanoseconds()) / 1e6 * float64(r.spec.Chunks) / float64(base)

		t0 = time.Now()
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

		singles = append(singles, singleMS)
		farmMS = append(farmMS, ms)
		speedups = append(speedups, singleMS/ms)
		ceilings = append(ceilings, singleMS/goroutinesMS)
	}
	if pi := 4 * float64(inside) / float64(per*r.spec.Chunks); math.Abs(pi-math.Pi) > 0.01 {
		return fmt.Errorf("pi = %v", pi)
	}
	r.add("pi", "ms", median(farmMS))
	r.add("pi", "speedup", median(speedups))
	r.add("pi", "single_ms", median(singles))
	r.add("pi", "ceiling_speedup", median(ceilings))
	return nil
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
// serializer's name as a suffix.
func (r *goRunner) payload(ser serializer.Serializer) error {
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
	echo := func() error {
		b, err := farm.Call[[]byte](ctx, f, "echo", payload)
		if err != nil {
			return err
		}
		if len(b) != len(payload) {
			return fmt.Errorf("echo returned %d bytes, want %d", len(b), len(payload))
		}
		return nil
	}
	if err := echo(); err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, r.spec.Window)
	n := int64(r.spec.Calls)
	t0 := time.Now()
	for g := range r.spec.Window {
		wg.Go(func() {
			for next.Add(1) <= n {
				if err := echo(); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w := r.spec.Workload + "-" + ser.Name()
	r.add(w, "mb_per_s", float64(r.spec.Size)*float64(n)/el.Seconds()/1e6)
	r.stats(w, f)
	return nil
}
