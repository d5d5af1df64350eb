// Command chaos is the farm's chaos soak: it runs many calls through a farm
// of the chaos worker, each told by the host (with a seeded RNG) to answer,
// fail, panic, kill its worker or hang past the timeout, then checks that
// every call got exactly one answer, the right one for its fate, and that
// no worker process, goroutine, socket directory or file descriptor leaked.
// It exits 1 on any violation, 2 when it cannot run.
//
//	go run ./internal/soak/chaos                # 100,000 calls
//	go run ./internal/soak/chaos -short         # 3,000 calls, for CI
//	go run ./internal/soak/chaos -agents 2      # and 2 agents that die and come back
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/soak"
	"github.com/workestrator/workestrator/internal/testutil"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg := soak.ChaosConfig{Rates: map[string]float64{}}
	flag.IntVar(&cfg.Calls, "calls", 100_000, "number of calls")
	short := flag.Bool("short", false, "a short run for CI: 3,000 calls unless -calls is given")
	flag.IntVar(&cfg.Workers, "workers", 4, "worker processes")
	flag.IntVar(&cfg.PerWorker, "per-worker", 0, "MaxConcurrentCallsPerWorker (0: the farm's default)")
	flag.DurationVar(&cfg.Timeout, "timeout", 200*time.Millisecond, "per-attempt Timeout")
	flag.DurationVar(&cfg.KillTimeout, "kill-timeout", 100*time.Millisecond, "KillTimeout")
	flag.IntVar(&cfg.MaxRetries, "retries", 3, "MaxRetries (-1: none)")
	flag.IntVar(&cfg.InFlight, "inflight", 2000, "calls submitted and not answered, at most (0: submit all at once)")
	memMB := flag.Int64("max-worker-memory", 48, "MaxWorkerMemory in MiB (0: none); each grow call keeps 16 MiB")
	hardMB := flag.Int64("max-worker-memory-hard", 0, "MaxWorkerMemoryHard in MiB (0: none)")
	flag.DurationVar(&cfg.MemoryCheckInterval, "memory-interval", 100*time.Millisecond, "MemoryCheckInterval")
	reload := flag.Bool("reload", true, "Reload the farm to a copy of its worker once half the calls are submitted")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the fates")
	flag.IntVar(&cfg.MinPerFate, "min-per-fate", 3, "least number of calls of each fate whose rate is positive")
	flag.IntVar(&cfg.BlockingEvery, "blocking-every", 3, "make every N-th call with the blocking RunMethod instead of as a Future (0: none)")
	flag.IntVar(&cfg.BlobEvery, "blob-every", 5, "make every N-th call carry a byte slice of 16 KiB to 1 MiB, checked by the worker (0: none)")
	flag.DurationVar(&cfg.Deadline, "deadline", 15*time.Minute, "bound on the wait for all answers")
	flag.StringVar(&cfg.Worker, "worker", "", "chaos worker binary (default: build "+soak.WorkerPkg+")")
	flag.IntVar(&cfg.Agents, "agents", 0, "agents (workestrator serve) to add to the farm, over its embedded NATS server; they are killed, frozen and drained")
	flag.StringVar(&cfg.AgentBin, "agent-bin", "", "workestrator binary for -agents (default: build "+soak.AgentPkg+")")
	flag.IntVar(&cfg.AgentWorkers, "agent-workers", 2, "workers of each agent")
	flag.DurationVar(&cfg.Heartbeat, "heartbeat", 100*time.Millisecond, "heartbeat of the farm and the agents (an agent is lost after 3)")
	fateKinds := flag.String("agent-fate-kinds", strings.Join(soak.AgentFates, ","), "agent fates applied in turn; also "+strings.Join(soak.MoreAgentFates, ", "))
	agentFates := flag.Int("agent-fates", -1, "agent fates, spread over the calls (-1: one per 2,000 calls, at least one of each kind)")
	logLevel := flag.String("log", "error", "farm log level (trace, debug, info, warn, error, off)")
	rates := map[string]*float64{}
	for _, f := range soak.Fates[1:] {
		rates[f] = flag.Float64("p-"+f, soak.DefaultRates[f], "fraction of calls whose fate is "+f)
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "chaos: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if *short {
		set := false
		flag.Visit(func(f *flag.Flag) { set = set || f.Name == "calls" })
		if !set {
			cfg.Calls = 3000
		}
		if cfg.Deadline == 15*time.Minute {
			cfg.Deadline = 2 * time.Minute
		}
	}
	cfg.MaxWorkerMemory, cfg.MaxWorkerMemoryHard = *memMB<<20, *hardMB<<20
	cfg.AgentFateKinds = strings.Split(*fateKinds, ",")
	cfg.AgentFates = *agentFates
	if cfg.AgentFates < 0 {
		cfg.AgentFates = max(len(cfg.AgentFateKinds), cfg.Calls/2000)
	}
	if *reload {
		cfg.ReloadAt = cfg.Calls / 2
	}
	for f, p := range rates {
		cfg.Rates[f] = *p
	}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "chaos", Level: hclog.LevelFromString(*logLevel), Output: os.Stderr})
	if cfg.Worker == "" {
		p, err := testutil.Build(soak.WorkerPkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
		defer testutil.Cleanup()
		cfg.Worker = p
	}
	if cfg.Agents > 0 && cfg.AgentBin == "" {
		p, err := testutil.Build(soak.AgentPkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
		defer testutil.Cleanup()
		cfg.AgentBin = p
	}
	rep, err := soak.RunChaos(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	if !rep.OK() {
		return 1
	}
	return 0
}
