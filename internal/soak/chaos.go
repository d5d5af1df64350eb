// Package soak holds the resilience soaks of the farm: the chaos soak (calls
// that randomly fail, panic, crash or hang their worker) and its leak
// checks. The programs under internal/soak/chaos and internal/soak/orphan
// run them; see README.md.
package soak

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/workestrator/workestrator/internal/soak/blob"

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
	// BlobEvery makes every BlobEvery-th call (counted from 1) carry a
	// byte slice of 16 KiB to 1 MiB (internal/soak/blob) that the worker
	// checks before its fate: most of them go through the workers'
	// shared-memory arenas, under every fate. 0 makes none.
	BlobEvery int
	// ReloadAt, when positive, starts a Reload of the farm to a copy of
	// Worker once that many calls are submitted, while the rest go on.
	ReloadAt int
	// Agents, when positive, adds that many agents to the farm (remote
	// mode): `workestrator serve` processes of AgentBin, of AgentWorkers
	// chaos workers each, over the NATS server the farm embeds on
	// loopback, with heartbeats every Heartbeat. Workers may then be 0:
	// no local worker. AgentFates fates (AgentFates: killed, frozen,
	// drained...) are applied to them, spread evenly over the calls, one
	// at a time. See agents.go.
	Agents int
	// AgentBin is the workestrator binary (built from AgentPkg).
	AgentBin string
	// AgentWorkers is the number of workers of each agent; 0 means 2.
	AgentWorkers int
	// Heartbeat is the farm's and the agents' heartbeat period; 0 means
	// 100 ms.
	Heartbeat time.Duration
	// AgentFates is the number of agent fates.
	AgentFates int
	// AgentFateKinds are the agent fates applied in turn, from AgentFates
	// and MoreAgentFates; nil means AgentFates.
	AgentFateKinds []string
	// Deadline bounds the wait for all answers.
	Deadline time.Duration
	// Out receives the summary; nil means os.Stdout.
	Out io.Writer
	// Logger is the farm's logger; nil means errors only, on stderr.
	Logger hclog.Logger
}

// Report is what RunChaos found.
type Report struct {
	Calls  int
	Counts map[string]*[numOutcomes]int
	// Kinds counts the answers by kind: "result", or the error's (see
	// errKind).
	Kinds      map[string]int
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
	// Runs counts the runs of calls in the workers (from their journal),
	// Attempts the attempts the farm made (from its message events).
	Runs, Attempts int
	// Doubles counts the calls of a fate that runs once (ok, grow,
	// permanent, cancel) that ran more than once, by the cause of the
	// attempt whose outcome the host did not learn: "agent lost", "worker
	// died", "timed out" (see journal.go).
	Doubles map[string]int
	// DoubleExamples describe a few of them.
	DoubleExamples []string
	// AgentFates counts the agent fates applied, by kind; AgentsStarted
	// the agent processes started. LossMean and LossMax are the mean and
	// the longest times from an agent's kill or freeze to the farm's
	// losing its workers.
	AgentFates        map[string]int
	AgentsStarted     int
	LossMean, LossMax time.Duration
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

// run is one RunChaos: its configuration, its farm, its calls and what it
// found.
type run struct {
	cfg     ChaosConfig
	out     io.Writer
	retries int      // effective MaxRetries
	fates   []string // of each call, by index
	blobs   [][]byte // the blob calls' byte slices, by kind
	rep     *Report
	rng     *rand.Rand
	tmp     string // the run's own directory: the Reload's binary...
	// reloadTo is the binary of the Reload in the middle.
	reloadTo string
	base     baseline
	evs      *eventLog
	f        *farm.Farm

	futures  []answer
	blockers sync.WaitGroup
	cancels  []context.CancelFunc
	timers   []*time.Timer
	reloaded chan error
	leaks    leaks
	killed   time.Time // when Kill began
	agents   *agents   // in remote mode
}

// after is the number of plain calls made once the soak's calls are
// answered, to check that the farm recovered.
const after = 200

// RunChaos runs the chaos soak and checks its answers and, after Kill, that
// nothing leaked. The error is for a soak that could not run at all; its
// findings are in the Report.
func RunChaos(cfg ChaosConfig) (*Report, error) {
	r, err := newRun(cfg)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.tmp) // once the farm is killed: recycles start the Reload's binary
	if err := r.start(); err != nil {
		if r.f != nil {
			r.f.Kill()
		}
		if r.agents != nil {
			r.agents.stop()
		}
		return nil, err
	}
	ctx, cancelAll := context.WithTimeout(context.Background(), r.cfg.Deadline)
	defer cancelAll()
	r.submit(ctx)
	r.checkAnswers()
	r.recovered()
	r.kill(cancelAll)
	r.checkEvents()
	r.checkLeaks()
	r.checkRuns()
	r.summary()
	return r.rep, nil
}

// newRun applies the defaults and plans the fates.
func newRun(cfg ChaosConfig) (*run, error) {
	r := &run{cfg: cfg, out: cfg.Out}
	if cfg.BlobEvery > 0 {
		for k := range blob.Kinds {
			r.blobs = append(r.blobs, blob.Make(k))
		}
	}
	if r.out == nil {
		r.out = os.Stdout
	}
	if r.cfg.Logger == nil {
		r.cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "chaos", Level: hclog.Error, Output: os.Stderr})
	}
	if r.cfg.Deadline <= 0 {
		r.cfg.Deadline = 15 * time.Minute
	}
	if cfg.Agents > 0 {
		if cfg.AgentBin == "" {
			return nil, fmt.Errorf("ChaosConfig.AgentBin: the workestrator binary is required with Agents")
		}
		r.cfg.AgentWorkers = cmp.Or(cfg.AgentWorkers, 2)
		r.cfg.Heartbeat = cmp.Or(cfg.Heartbeat, 100*time.Millisecond)
		if cfg.Workers == 0 {
			r.cfg.ReloadAt = 0 // no local worker to reload
		}
	}
	r.retries = cfg.MaxRetries
	switch r.retries {
	case 0:
		r.retries = farm.DefaultMaxRetries
	case farm.NoRetries:
		r.retries = 0
	}
	var err error
	if r.fates, err = PlanFates(cfg.Calls, cfg.Rates, cfg.MinPerFate, cfg.Seed); err != nil {
		return nil, err
	}
	r.rep = &Report{Calls: cfg.Calls, Counts: map[string]*[numOutcomes]int{}, Kinds: map[string]int{}}
	for _, f := range Fates {
		r.rep.Counts[f] = new([numOutcomes]int)
	}
	r.rng = rand.New(rand.NewPCG(cfg.Seed^0xc0ffee, cfg.Seed))
	if r.tmp, err = os.MkdirTemp("", "chaos-"); err != nil {
		return nil, err
	}
	return r, nil
}

// start takes the baselines and makes the farm.
func (r *run) start() error {
	cfg := r.cfg
	fmt.Fprintf(r.out, "chaos soak: %d calls, %d workers (%d calls each at most), timeout %v, kill timeout %v, retries %d, in flight %d, seed %d, memory limits %d/%d MiB\n",
		cfg.Calls, cfg.Workers, cmp.Or(cfg.PerWorker, farm.DefaultMaxConcurrentCallsPerWorker),
		cfg.Timeout, cfg.KillTimeout, r.retries, cfg.InFlight, cfg.Seed, cfg.MaxWorkerMemory>>20, cfg.MaxWorkerMemoryHard>>20)
	if cfg.Agents > 0 {
		fmt.Fprintf(r.out, "remote: %d agents of %d workers, heartbeat %v, %d agent fates (%s in turn)\n",
			cfg.Agents, cfg.AgentWorkers, cfg.Heartbeat, cfg.AgentFates, strings.Join(r.fateKinds(), ", "))
	}

	// The binary of the Reload in the middle, before the farm forks.
	if cfg.ReloadAt > 0 {
		var err error
		if r.reloadTo, err = copyWorker(cfg.Worker, r.tmp); err != nil {
			return err
		}
	}
	r.base = takeBaseline()
	r.evs = newEventLog()
	fc := farm.Config{
		Path:                        cfg.Worker,
		Workers:                     cfg.Workers,
		MaxConcurrentCallsPerWorker: cfg.PerWorker,
		Timeout:                     cfg.Timeout,
		KillTimeout:                 cfg.KillTimeout,
		MaxRetries:                  cfg.MaxRetries,
		MaxWorkerMemory:             cfg.MaxWorkerMemory,
		MaxWorkerMemoryHard:         cfg.MaxWorkerMemoryHard,
		MemoryCheckInterval:         cfg.MemoryCheckInterval,
		Env:                         []string{"CHAOS_JOURNAL=" + r.journalPath()},
		Logger:                      cfg.Logger,
		OnEvent:                     r.evs.on,
	}
	if cfg.Agents > 0 {
		fc.Remote = &farm.RemoteConfig{Listen: "127.0.0.1:0", Heartbeat: cfg.Heartbeat}
		if cfg.Workers == 0 {
			fc.Path = ""
		}
	}
	start := time.Now()
	f, err := farm.New(fc)
	if err != nil {
		return fmt.Errorf("farm.New: %w", err)
	}
	r.f = f
	r.rep.Start = time.Since(start)
	if cfg.Agents > 0 {
		return r.startAgents()
	}
	return nil
}

// slots is the number of the farm's workers: its own, and its agents'.
func (r *run) slots() int { return r.cfg.Workers + r.cfg.Agents*r.cfg.AgentWorkers }

// kill kills the farm, which must take at most KillTimeout and a margin,
// and ends the calls' contexts.
func (r *run) kill(cancelAll context.CancelFunc) {
	start := time.Now()
	r.killed = start
	r.f.Kill()
	r.blockers.Wait()
	r.rep.KillTime = time.Since(start)
	r.rep.Stats = r.f.Stats()
	for _, t := range r.timers {
		t.Stop()
	}
	for _, c := range r.cancels {
		c()
	}
	cancelAll()
	if limit := effKillTimeout(r.cfg.KillTimeout) + time.Second; r.rep.KillTime > limit {
		r.rep.violate("Kill took %v (KillTimeout %v)", r.rep.KillTime, effKillTimeout(r.cfg.KillTimeout))
	}
	if a := r.agents; a != nil {
		a.stop()
		a.report(r.rep)
	}
}

// checkEvents checks that each call got exactly one message event, and
// counts the events.
func (r *run) checkEvents() {
	evs, rep := r.evs, r.rep
	// The listener may get the last events just after Kill returns.
	total := r.cfg.Calls + after
	testutil.WaitFor(5*time.Second, func() bool { return evs.answered() >= total })
	evs.mu.Lock()
	defer evs.mu.Unlock()
	answered, twice := 0, 0
	for _, c := range evs.calls {
		if c.answers > 0 {
			answered++
		}
		if c.answers > 1 {
			twice++
		}
	}
	if answered != total || twice > 0 {
		rep.violate("message events: %d calls answered, %d of them more than once; want %d calls, once each", answered, twice, total)
	}
	rep.MemoryRecycles, rep.MemoryKills = evs.types[farm.EventMemory], evs.types[farm.EventMemoryKill]
	rep.Reloads = evs.types[farm.EventReload]
	if r.cfg.ReloadAt > 0 && r.cfg.ReloadAt < len(r.fates) && rep.Reloads != r.cfg.Workers {
		rep.violate("%d reload events for %d workers", rep.Reloads, r.cfg.Workers)
	}
}
