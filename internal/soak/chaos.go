// Package soak holds the resilience soaks of the farm: the chaos soak (calls
// that randomly fail, panic, crash or hang their worker) and its leak
// checks. The programs under internal/soak/chaos and internal/soak/orphan
// run them; see README.md.
package soak

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// WorkerPkg is the package of the chaos worker, relative to the module root.
const WorkerPkg = "./internal/soak/chaos/worker"

// exitCode is the chaos worker's exit status for the "exit" fate.
const exitCode = 42

// Fates are what a chaos call may be told to do, in report order.
//
//	ok         answer idx*2
//	error      return an application error (retried)
//	permanent  return an error marked permanent (never retried)
//	panic      panic (retried)
//	exit       os.Exit(42): the worker dies
//	kill       SIGKILL itself: the worker dies
//	hang       block forever, ignoring its context: the worker is recycled
//	hangctx    block until its context is cancelled (by the attempt timeout)
//	cancel     block until its context ends; the host cancels the call
//	grow       allocate and keep 16 MiB more, then answer idx*2: with
//	           MaxWorkerMemory the worker is replaced after a few
var Fates = []string{"ok", "error", "permanent", "panic", "exit", "kill", "hang", "hangctx", "cancel", "grow"}

// DefaultRates are the default fractions of calls of each fate but "ok".
var DefaultRates = map[string]float64{
	"error":     0.002,
	"permanent": 0.001,
	"panic":     0.002,
	"exit":      0.0005,
	"kill":      0.0002,
	"hang":      0.0002,
	"hangctx":   0.0005,
	"cancel":    0.0005,
	"grow":      0.002,
}

// ChaosConfig configures [RunChaos].
type ChaosConfig struct {
	// Worker is the chaos worker binary (built from WorkerPkg).
	Worker string
	// Calls and Workers: how many calls, through how many workers.
	Calls, Workers int
	// PerWorker is farm.Config.MaxConcurrentCallsPerWorker (0: default).
	PerWorker int
	// Timeout, KillTimeout and MaxRetries go to the farm's Config.
	Timeout, KillTimeout time.Duration
	MaxRetries           int
	// InFlight bounds the calls submitted and not yet answered, roughly;
	// 0 submits every call at once.
	InFlight int
	// MaxWorkerMemory, MaxWorkerMemoryHard and MemoryCheckInterval go to
	// the farm's Config.
	MaxWorkerMemory, MaxWorkerMemoryHard int64
	MemoryCheckInterval                  time.Duration
	// Seed seeds the RNG that picks the fates.
	Seed uint64
	// Rates maps a fate to its fraction of the calls; the rest are "ok".
	Rates map[string]float64
	// MinPerFate is the least number of calls of each fate whose rate is
	// positive, so that a short run sees every fate.
	MinPerFate int
	// BlockingEvery makes every BlockingEvery-th call from a goroutine
	// blocked in RunMethod (whose call record the farm recycles) instead of
	// as a Future, but for the calls the host cancels; 0 makes every call a
	// Future.
	BlockingEvery int
	// ReloadAt, when positive, starts a Reload of the farm to a copy of
	// Worker once that many calls are submitted, while the rest go on.
	ReloadAt int
	// Deadline bounds the wait for all answers.
	Deadline time.Duration
	// Out receives the summary; nil means os.Stdout.
	Out io.Writer
	// Logger is the farm's logger; nil means errors only, on stderr.
	Logger hclog.Logger
}

// answer is how a chaos call is answered: a [farm.Future], or a
// blockingCall.
type answer interface {
	Done() <-chan struct{}
	Result() (farm.Result, error)
}

// blockingCall is the answer of a call made with the blocking RunMethod.
type blockingCall struct {
	done chan struct{} // closed when RunMethod has returned
	res  farm.Result
	err  error
}

func (b *blockingCall) Done() <-chan struct{} { return b.done }

func (b *blockingCall) Result() (farm.Result, error) {
	<-b.done
	return b.res, b.err
}

// outcome of one call, as classified against its fate.
const (
	outRight      = iota // the success or the error its fate asks for
	outCollateral        // a retry-exhausted worker death or timeout caused by others
	outWrong             // a violation
	outLost              // no answer by the deadline
	numOutcomes
)

// Report is what RunChaos found.
type Report struct {
	Calls      int
	Counts     map[string]*[numOutcomes]int
	Violations []string
	Wall       time.Duration
	Start      time.Duration // farm.New
	KillTime   time.Duration
	Stats      farm.Stats
	// MemoryRecycles and MemoryKills count the memory and memory-kill
	// events.
	MemoryRecycles, MemoryKills int
	// Reloads counts the reload events (one per slot when the Reload
	// asked for by ReloadAt succeeded).
	Reloads int
}

// OK reports whether the soak found no violation.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

func (r *Report) violate(format string, a ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, a...))
}

// PlanFates returns the fate of each of n calls: for each fate,
// max(min, round(rate×n)) calls (rate > 0), the rest "ok", shuffled with a
// RNG seeded by seed.
func PlanFates(n int, rates map[string]float64, min int, seed uint64) ([]string, error) {
	fates := make([]string, 0, n)
	for _, f := range Fates[1:] {
		rate := rates[f]
		if rate <= 0 {
			continue
		}
		k := max(min, int(math.Round(rate*float64(n))))
		for range k {
			fates = append(fates, f)
		}
	}
	for k := range rates {
		if !isFate(k) || k == "ok" {
			return nil, fmt.Errorf("unknown fate %q", k)
		}
	}
	if len(fates) > n {
		return nil, fmt.Errorf("%d calls are too few for %d non-ok fates", n, len(fates))
	}
	for len(fates) < n {
		fates = append(fates, "ok")
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rng.Shuffle(len(fates), func(i, j int) { fates[i], fates[j] = fates[j], fates[i] })
	return fates, nil
}

func isFate(s string) bool {
	for _, f := range Fates {
		if f == s {
			return true
		}
	}
	return false
}

// eventLog counts what the farm's event listener saw.
type eventLog struct {
	mu      sync.Mutex
	answers map[uint64]int // message events per call id
	pids    []int          // every forked worker
	types   map[farm.EventType]int
}

func (e *eventLog) on(ev farm.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.types[ev.Type]++
	switch ev.Type {
	case farm.EventMessage:
		e.answers[ev.CallID]++
	case farm.EventFork:
		e.pids = append(e.pids, ev.PID)
	}
}

// RunChaos runs the chaos soak and checks its answers and, after Kill, that
// nothing leaked. The error is for a soak that could not run at all; its
// findings are in the Report.
func RunChaos(cfg ChaosConfig) (*Report, error) {
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "chaos", Level: hclog.Error, Output: os.Stderr})
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 15 * time.Minute
	}
	retries := cfg.MaxRetries // effective retries
	switch retries {
	case 0:
		retries = farm.DefaultMaxRetries
	case farm.NoRetries:
		retries = 0
	}
	fates, err := PlanFates(cfg.Calls, cfg.Rates, cfg.MinPerFate, cfg.Seed)
	if err != nil {
		return nil, err
	}
	rep := &Report{Calls: cfg.Calls, Counts: map[string]*[numOutcomes]int{}}
	for _, f := range Fates {
		rep.Counts[f] = new([numOutcomes]int)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed^0xc0ffee, cfg.Seed))

	fmt.Fprintf(out, "chaos soak: %d calls, %d workers (%d calls each at most), timeout %v, kill timeout %v, retries %d, in flight %d, seed %d, memory limits %d/%d MiB\n",
		cfg.Calls, cfg.Workers, cmp.Or(cfg.PerWorker, farm.DefaultMaxConcurrentCallsPerWorker),
		cfg.Timeout, cfg.KillTimeout, retries, cfg.InFlight, cfg.Seed, cfg.MaxWorkerMemory>>20, cfg.MaxWorkerMemoryHard>>20)

	// The binary of the Reload in the middle, before the farm forks.
	var reloadTo string
	if cfg.ReloadAt > 0 {
		dir, err := os.MkdirTemp("", "chaos-reload-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir) // once the farm is killed: recycles start it
		if reloadTo, err = copyWorker(cfg.Worker, dir); err != nil {
			return nil, err
		}
	}

	// Baselines, before the farm exists.
	goroutines0 := runtime.NumGoroutine()
	fds0 := countFDs()
	dirs0 := socketDirs()
	children0 := len(testutil.Children(os.Getpid()))

	evs := &eventLog{answers: map[uint64]int{}, types: map[farm.EventType]int{}}
	start := time.Now()
	f, err := farm.New(farm.Config{
		Path:                        cfg.Worker,
		Workers:                     cfg.Workers,
		MaxConcurrentCallsPerWorker: cfg.PerWorker,
		Timeout:                     cfg.Timeout,
		KillTimeout:                 cfg.KillTimeout,
		MaxRetries:                  cfg.MaxRetries,
		MaxWorkerMemory:             cfg.MaxWorkerMemory,
		MaxWorkerMemoryHard:         cfg.MaxWorkerMemoryHard,
		MemoryCheckInterval:         cfg.MemoryCheckInterval,
		Logger:                      cfg.Logger,
		OnEvent:                     evs.on,
	})
	if err != nil {
		return nil, fmt.Errorf("farm.New: %w", err)
	}
	rep.Start = time.Since(start)

	ctx, cancelAll := context.WithTimeout(context.Background(), cfg.Deadline)
	defer cancelAll()
	futures := make([]answer, cfg.Calls)
	var blockers sync.WaitGroup
	var cancels []context.CancelFunc
	var timers []*time.Timer
	begin := time.Now()
	reloaded := make(chan error, 1)
	for i, fate := range fates {
		if cfg.ReloadAt > 0 && i == cfg.ReloadAt {
			go func() { reloaded <- f.Reload(ctx, reloadTo) }()
		}
		if w := cfg.InFlight; w > 0 && i >= w {
			select {
			case <-futures[i-w].Done():
			case <-ctx.Done():
			}
		}
		cctx, cancel := ctx, context.CancelFunc(nil)
		if fate == "cancel" {
			cctx, cancel = context.WithCancel(ctx)
			cancels = append(cancels, cancel)
		}
		// A "cancel" call is always a Future: its cancel timer must start
		// once it has entered the farm, which Go has done when it returns.
		if cfg.BlockingEvery > 0 && i%cfg.BlockingEvery == 0 && cancel == nil {
			b := &blockingCall{done: make(chan struct{})}
			futures[i] = b
			blockers.Go(func() {
				b.res, b.err = f.RunMethod(cctx, "chaos", i, fate)
				close(b.done)
			})
		} else {
			futures[i] = f.Go(cctx, "chaos", i, fate)
		}
		if cancel != nil {
			// Cancelled once submitted: a context that ends before Go is
			// refused at once and never enters the farm.
			timers = append(timers, time.AfterFunc(time.Duration(1+rng.IntN(30))*time.Millisecond, cancel))
		}
	}
	for _, fu := range futures {
		select {
		case <-fu.Done():
		case <-ctx.Done():
		}
	}
	rep.Wall = time.Since(begin)
	if cfg.ReloadAt > 0 && cfg.ReloadAt < len(fates) {
		if err := <-reloaded; err != nil {
			rep.violate("Reload in the middle of the calls: %v", err)
		}
	}

	// Every call: one answer, the right one for its fate.
	for i, fu := range futures {
		fate := fates[i]
		select {
		case <-fu.Done():
		default:
			rep.Counts[fate][outLost]++
			rep.violate("call %d (%s): no answer after %v", i, fate, cfg.Deadline)
			continue
		}
		res, err := fu.Result()
		o, why := classify(i, fate, res, err, retries)
		rep.Counts[fate][o]++
		if o == outWrong {
			rep.violate("call %d (%s): %s", i, fate, why)
		}
		// A second read must give the same answer.
		if res2, err2 := fu.Result(); !sameAnswer(res, err, res2, err2) {
			rep.violate("call %d (%s): answer changed: %v then %v", i, fate, err, err2)
		}
	}

	st := f.Stats()
	n := uint64(cfg.Calls)
	if st.Submitted != n || st.Succeeded+st.Failed != n || st.Queued != 0 || st.InFlight != 0 {
		rep.violate("stats after every answer: submitted %d, succeeded %d + failed %d, queued %d, in flight %d; want %d answered, none left",
			st.Submitted, st.Succeeded, st.Failed, st.Queued, st.InFlight, n)
	}
	if got := uint64(rep.Counts["ok"][outRight] + rep.Counts["grow"][outRight]); st.Succeeded != got {
		rep.violate("stats say %d calls succeeded, the futures %d", st.Succeeded, got)
	}

	// The farm recovers: every slot gets a worker back, and plain calls
	// work (worker starts may be in a crash-loop backoff of up to 5 s).
	if !testutil.WaitFor(20*time.Second, func() bool { return online(f) == cfg.Workers }) {
		rep.violate("%d of %d workers online 20s after the last answer: %+v", online(f), cfg.Workers, f.Stats().Workers)
	}
	const after = 200
	var checks []*farm.Future
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	for i := range after {
		checks = append(checks, f.Go(actx, "chaos", cfg.Calls+i, "ok"))
	}
	for i, fu := range checks {
		res, err := fu.Result()
		if o, why := classify(cfg.Calls+i, "ok", res, err, retries); o != outRight {
			rep.violate("call after the soak %d: %s", i, why)
		}
	}
	acancel()

	// Kill, then nothing may be left.
	killStart := time.Now()
	f.Kill()
	blockers.Wait()
	rep.KillTime = time.Since(killStart)
	rep.Stats = f.Stats()
	for _, t := range timers {
		t.Stop()
	}
	for _, c := range cancels {
		c()
	}
	cancelAll()
	if limit := effKillTimeout(cfg.KillTimeout) + time.Second; rep.KillTime > limit {
		rep.violate("Kill took %v (KillTimeout %v)", rep.KillTime, effKillTimeout(cfg.KillTimeout))
	}

	// The listener may get the last events just after Kill returns.
	total := cfg.Calls + after
	testutil.WaitFor(5*time.Second, func() bool {
		evs.mu.Lock()
		defer evs.mu.Unlock()
		return len(evs.answers) >= total
	})
	evs.mu.Lock()
	twice := 0
	for _, k := range evs.answers {
		if k != 1 {
			twice++
		}
	}
	if len(evs.answers) != total || twice > 0 {
		rep.violate("message events: %d calls answered, %d of them more than once; want %d calls, once each", len(evs.answers), twice, total)
	}
	pids := append([]int(nil), evs.pids...)
	types := maps(evs.types)
	rep.MemoryRecycles, rep.MemoryKills = evs.types[farm.EventMemory], evs.types[farm.EventMemoryKill]
	rep.Reloads = evs.types[farm.EventReload]
	if cfg.ReloadAt > 0 && cfg.ReloadAt < len(fates) && rep.Reloads != cfg.Workers {
		rep.violate("%d reload events for %d workers", rep.Reloads, cfg.Workers)
	}
	evs.mu.Unlock()

	var alive []int
	if !testutil.WaitFor(2*time.Second, func() bool {
		// A pid still alive but no longer our child was reused by the
		// system (pid_max can be small): only our children count.
		kids := testutil.Children(os.Getpid())
		alive = alive[:0]
		for _, p := range pids {
			if testutil.Alive(p) && slices.Contains(kids, p) {
				alive = append(alive, p)
			}
		}
		return len(alive) == 0
	}) {
		rep.violate("worker processes alive after Kill: %v", alive)
	}
	var kids []int
	if !testutil.WaitFor(2*time.Second, func() bool {
		kids = testutil.Children(os.Getpid())
		return len(kids) <= children0
	}) {
		rep.violate("child processes after Kill: %v (%d before New)", kids, children0)
	}
	if dirs := socketDirs(); len(dirs) > len(dirs0) {
		rep.violate("socket directories left after Kill: %v", dirs)
	}
	var goroutines, fds int
	if !testutil.WaitFor(5*time.Second, func() bool {
		goroutines = runtime.NumGoroutine()
		return goroutines <= goroutines0
	}) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		rep.violate("goroutines: %d before New, %d 5s after Kill:\n%s", goroutines0, goroutines, buf)
	}
	if !testutil.WaitFor(5*time.Second, func() bool {
		fds = countFDs()
		return fds <= fds0
	}) {
		rep.violate("file descriptors: %d before New, %d 5s after Kill: %s", fds0, fds, fdList())
	}

	// Summary.
	s := rep.Stats
	fmt.Fprintf(out, "%-10s %8s %8s %11s %10s %5s\n", "fate", "calls", "right", "collateral", "violation", "lost")
	tot := [numOutcomes]int{}
	for _, fate := range Fates {
		c := rep.Counts[fate]
		sum := 0
		for k, v := range c {
			sum += v
			tot[k] += v
		}
		fmt.Fprintf(out, "%-10s %8d %8d %11d %10d %5d\n", fate, sum, c[outRight], c[outCollateral], c[outWrong], c[outLost])
	}
	fmt.Fprintf(out, "%-10s %8d %8d %11d %10d %5d\n", "total", cfg.Calls, tot[outRight], tot[outCollateral], tot[outWrong], tot[outLost])
	fmt.Fprintf(out, "wall %v, %.0f calls/s; farm.New %v, Kill %v\n",
		rep.Wall.Round(time.Millisecond), float64(cfg.Calls)/rep.Wall.Seconds(), rep.Start.Round(time.Millisecond), rep.KillTime.Round(time.Millisecond))
	fmt.Fprintf(out, "calls: submitted %d, succeeded %d, failed %d, retried %d, timed out %d\n",
		s.Submitted, s.Succeeded, s.Failed, s.Retried, s.TimedOut)
	fmt.Fprintf(out, "workers: started %d, crashed %d, recycled %d (hung %d), exited %d, start failures %d\n",
		s.WorkersStarted, s.WorkersCrashed, s.WorkersRecycled, s.WorkersHung, s.WorkersExited, s.StartFailures)
	fmt.Fprintf(out, "queue wait p50 %v p99 %v max %v; run time p50 %v p99 %v max %v\n",
		s.QueueWait.P50, s.QueueWait.P99, s.QueueWait.Max.Round(time.Millisecond), s.RunTime.P50, s.RunTime.P99, s.RunTime.Max.Round(time.Millisecond))
	fmt.Fprintf(out, "events: %s\n", types)
	if cfg.ReloadAt > 0 {
		fmt.Fprintf(out, "reload at call %d: %d workers reloaded\n", cfg.ReloadAt, rep.Reloads)
	}
	fmt.Fprintf(out, "leaks: goroutines %d -> %d, fds %d -> %d, worker processes alive %d of %d, socket dirs %d\n",
		goroutines0, goroutines, fds0, fds, len(alive), len(pids), len(socketDirs())-len(dirs0))
	if rep.OK() {
		fmt.Fprintln(out, "PASS")
	} else {
		fmt.Fprintf(out, "FAIL: %d violations\n", len(rep.Violations))
		for i, v := range rep.Violations {
			if i == 30 {
				fmt.Fprintf(out, "  ... and %d more\n", len(rep.Violations)-i)
				break
			}
			fmt.Fprintf(out, "  %s\n", v)
		}
	}
	return rep, nil
}

// classify checks one call's answer against its fate.
func classify(idx int, fate string, res farm.Result, err error, retries int) (int, string) {
	if err == nil {
		if fate != "ok" && fate != "grow" {
			return outWrong, fmt.Sprintf("succeeded (%q) but its fate is %s", res.Bytes(), fate)
		}
		var v int
		if derr := res.Decode(&v); derr != nil || v != idx*2 {
			return outWrong, fmt.Sprintf("answer %q (%v), want %d", res.Bytes(), derr, idx*2)
		}
		return outRight, ""
	}
	// A retried failure must come as a MaxRetriesError after every attempt.
	last := err
	var mr *farm.MaxRetriesError
	wrapped := errors.As(err, &mr)
	if wrapped {
		if retries == 0 || mr.Attempts != retries+1 || mr.Method != "chaos" {
			return outWrong, fmt.Sprintf("%v: %d attempts, want %d", err, mr.Attempts, retries+1)
		}
		if _, direct := err.(*farm.MaxRetriesError); !direct {
			return outWrong, fmt.Sprintf("%T wraps the MaxRetriesError: %v", err, err)
		}
		last = mr.Last
	}
	retried := wrapped || retries == 0 // what a retryable failure looks like
	bad := func() (int, string) {
		return outWrong, fmt.Sprintf("error %T %v is not what fate %s gives", err, err, fate)
	}
	var re *farm.RemoteError
	isRemote := errors.As(last, &re) && last == error(re)
	var we *farm.WorkerExitError
	isExit := errors.As(last, &we) && last == error(we)
	var te *farm.TimeoutError
	isTimeout := errors.As(last, &te) && last == error(te)
	if isExit && (!errors.Is(err, farm.ErrWorkerTerminated) || we.PID <= 0) {
		return bad()
	}
	if isTimeout && (!errors.Is(err, farm.ErrTimeout) || te.PID <= 0) {
		return bad()
	}
	collateral := retried && (isExit || isTimeout)

	switch fate {
	case "ok", "grow":
	case "error":
		if retried && isRemote && re.Code == farm.CodeApplication && !re.Permanent &&
			re.Message == "chaos error "+strconv.Itoa(idx) && !errors.Is(err, farm.ErrPanic) {
			return outRight, ""
		}
	case "permanent":
		if !wrapped && isRemote && re.Permanent && errors.Is(err, farm.ErrPermanent) &&
			re.Message == "chaos permanent "+strconv.Itoa(idx) {
			return outRight, ""
		}
	case "panic":
		if retried && isRemote && re.Code == farm.CodePanic && errors.Is(err, farm.ErrPanic) &&
			strings.Contains(re.Message, "chaos panic "+strconv.Itoa(idx)) && re.Stack != "" {
			return outRight, ""
		}
	case "exit":
		if retried && isExit && we.Status.Code == exitCode && we.Status.Signal == "" {
			return outRight, ""
		}
	case "kill":
		if retried && isExit && we.Status.Signal == "killed" {
			return outRight, ""
		}
	case "hang", "hangctx":
		if retried && isTimeout {
			return outRight, ""
		}
	case "cancel":
		if err == context.Canceled {
			return outRight, ""
		}
	}
	if collateral {
		return outCollateral, ""
	}
	return bad()
}

func sameAnswer(r1 farm.Result, e1 error, r2 farm.Result, e2 error) bool {
	return e1 == e2 && string(r1.Bytes()) == string(r2.Bytes())
}

func online(f *farm.Farm) int {
	n := 0
	for _, w := range f.Stats().Workers {
		if w.State == "online" {
			n++
		}
	}
	return n
}

func effKillTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return farm.DefaultKillTimeout
	}
	return d
}

func maps(m map[farm.EventType]int) string {
	var parts []string
	for t, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", t, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// countFDs counts the process's open file descriptors.
func countFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}

// fdList describes the open file descriptors, for a leak report.
func fdList() string {
	es, _ := os.ReadDir("/proc/self/fd")
	var parts []string
	for _, e := range es {
		l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		parts = append(parts, e.Name()+"="+l)
	}
	return strings.Join(parts, " ")
}

// SocketDirs returns the farm socket directories of process pid:
// $TMPDIR/workestrator-<pid>-*.
func SocketDirs(pid int) []string {
	m, _ := filepath.Glob(filepath.Join(os.TempDir(), "workestrator-"+strconv.Itoa(pid)+"-*"))
	return m
}

func socketDirs() []string { return SocketDirs(os.Getpid()) }

// copyWorker copies the worker binary at path into dir, for a Reload: done
// before the farm forks any worker, for a file still open for writing in a
// child being forked cannot be executed (ETXTBSY).
func copyWorker(path, dir string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	to := filepath.Join(dir, "worker")
	return to, os.WriteFile(to, b, 0o755)
}
