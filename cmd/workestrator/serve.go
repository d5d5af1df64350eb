package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

func version() string { return farm.Version }

// serve runs `workestrator serve`.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("serve", "workestrator serve [flags] WORKER [ARGS...]",
		`Runs an agent: a local farm of WORKER (a worker binary built with pkg/plugin,
or a #! script such as a Node.js worker), whose workers take the calls of the
host farms of a NATS pool. SIGTERM or SIGINT drains it: it takes no new calls,
finishes those it runs (at most --drain-timeout), then exits 0.`, stderr)
	var (
		cfg         farm.AgentConfig
		tlsf        tlsFlags
		env         listFlag
		hostEnv     listFlag
		maxMem      sizeFlag
		maxMemHard  sizeFlag
		maxMsg      sizeFlag
		heapFloor   offSizeFlag
		heapReserve offSizeFlag
		checksum    hexFlag
		ser         string
		initArgs    string
		level       string
		connectWait time.Duration
	)
	fs.StringVar(&cfg.URL, "nats", "nats://127.0.0.1:4222", "NATS server URL (several: comma-separated)")
	fs.StringVar(&cfg.Token, "token", "", "NATS authorization token")
	fs.StringVar(&cfg.NKeyFile, "nkey", "", "file holding the NKey seed to sign in with (instead of --token)")
	tlsf.add(fs, "server")
	fs.StringVar(&cfg.Pool, "pool", "default", "pool of hosts to serve (letters, digits, '-', '_')")
	fs.StringVar(&cfg.Name, "name", "", "the agent's name in the hosts' events and stats (default: the host name)")
	fs.IntVar(&cfg.Farm.Workers, "workers", runtime.NumCPU(), "number of worker processes")
	fs.IntVar(&cfg.Farm.MaxConcurrentCallsPerWorker, "max-per-worker", farm.DefaultMaxConcurrentCallsPerWorker, "calls in flight on one worker at most")
	fs.IntVar(&cfg.Prefetch, "prefetch", 0, "calls per worker a host may send beyond --max-per-worker, queued here (0 means 1, -1 none)")
	fs.IntVar(&cfg.Farm.TTL, "ttl", 0, "calls a worker takes before it is replaced (0: no limit)")
	fs.DurationVar(&cfg.Farm.MaxIdleTime, "max-idle", 0, durationUsage("recycle a worker idle that long", "never"))
	fs.DurationVar(&cfg.Farm.Timeout, "timeout", 0, durationUsage("bound of each call on this agent, besides the budget its host sends", "none"))
	fs.DurationVar(&cfg.Farm.KillTimeout, "kill-timeout", 0, durationUsage("time a stopping worker gets before SIGKILL", "500ms"))
	fs.DurationVar(&cfg.Farm.StartTimeout, "start-timeout", 0, durationUsage("bound of a worker's start", "10s"))
	fs.DurationVar(&cfg.Farm.IdleSpin, "idle-spin", 0, durationUsage("how long the agent and its workers poll a worker's socket for its next message before they sleep, e.g. 50us", "off: calls reach an agent a NATS round trip apart"))
	fs.Var(&maxMem, "max-memory", "soft limit of a worker's RSS, e.g. 512M: replaced once over it (0: none)")
	fs.Var(&maxMemHard, "max-memory-hard", "hard limit of a worker's RSS: killed once over it (0: none)")
	fs.Var(&heapFloor, "heap-floor", "least heap goal of a Go worker's GC, e.g. 64M, or off (0: 32M, or a quarter of the lower memory limit)")
	fs.Var(&heapReserve, "heap-reserve", "heap reserve of the agent's own process, which spaces its GC's collections, e.g. 128M, or off (0: 64M, or an eighth of its cgroup's memory limit; none when GOGC or GOMEMLIMIT is set)")
	fs.Var(&maxMsg, "max-message-size", "largest encoded arguments or result of a call (0: 256M)")
	fs.StringVar(&cfg.Farm.Dir, "dir", "", "the workers' working directory (default: this one)")
	fs.Var(&env, "env", "KEY=VALUE for the workers' environment (repeatable; its variable: one a line)")
	fs.BoolVar(&cfg.Farm.SkipHostEnv, "skip-host-env", false, "give the workers none of this environment but --host-env and --env")
	fs.Var(&hostEnv, "host-env", "variables (or PREFIX*), comma-separated, passed to the workers with --skip-host-env (repeatable; its variable: one list a line)")
	fs.Var(&checksum, "checksum", "SHA-256 (hex) the worker binary must match before every start")
	fs.StringVar(&cfg.Farm.Init.Method, "init", "", "worker method every new worker runs before its first call; a failure fails its start (default: none)")
	fs.StringVar(&initArgs, "init-args", "", `the --init method's arguments, a JSON array such as '["model.bin", 4]'`)
	fs.StringVar(&ser, "serializer", "json", "serializer of the --init arguments: json or cbor (calls use their host's)")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", 0, durationUsage("period of the agent's heartbeats; hosts lose it after 3 missed", "1s"))
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 0, durationUsage("bound of the drain on SIGTERM", "30s"))
	fs.DurationVar(&connectWait, "connect-wait", farm.DefaultConnectWait, "how long to wait at start for a NATS server that does not answer, trying again meanwhile (a duration such as 500ms or 1m; 0: one attempt)")
	fs.StringVar(&level, "log-level", defaultLevel(), "log level: trace, debug, info, warn, error or off (default: $WORKESTRATOR_LOG, else info)")
	src, err := parse(fs, args, stdout)
	if err != nil {
		return err
	}
	defer func() { err = src.explain(err) }()
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "workestrator serve: the WORKER binary is missing")
		fs.Usage()
		return errUsage
	}
	if fs.Arg(0) == "" {
		return errors.New(`the WORKER argument is ""`)
	}
	log, err := newLogger("workestrator", level, stderr)
	if err != nil {
		return err
	}
	switch {
	case connectWait < 0:
		return fmt.Errorf("--connect-wait %v: must be 0 (one attempt) or positive", connectWait)
	case connectWait == 0:
		cfg.ConnectWait = -1
	default:
		cfg.ConnectWait = connectWait
	}
	if cfg.TLS, err = tlsf.config(false); err != nil {
		return err
	}
	switch ser {
	case "json":
		cfg.Farm.Serializer = serializer.JSON
	case "cbor":
		cfg.Farm.Serializer = serializer.CBOR
	default:
		return fmt.Errorf("--serializer %q: want json or cbor", ser)
	}
	if cfg.Farm.Init.Args, err = parseInitArgs(initArgs); err != nil {
		return err
	}
	cfg.Farm.Path, cfg.Farm.Args = fs.Arg(0), fs.Args()[1:]
	cfg.Farm.Env = env
	for _, l := range hostEnv {
		for _, name := range strings.Split(l, ",") {
			if name = strings.TrimSpace(name); name != "" {
				cfg.Farm.HostEnv = append(cfg.Farm.HostEnv, name)
			}
		}
	}
	cfg.Farm.MaxWorkerMemory, cfg.Farm.MaxWorkerMemoryHard = int64(maxMem), int64(maxMemHard)
	cfg.Farm.MaxMessageSize = int(maxMsg)
	cfg.Farm.WorkerHeapFloor = int64(heapFloor.sizeFlag)
	cfg.Farm.HostHeapReserve = int64(heapReserve.sizeFlag)
	if len(checksum) > 0 {
		cfg.Farm.Checksum = checksum
	}
	cfg.Farm.Logger = log
	// The workers get this environment: not the agent's secrets (a NATS
	// URL may hold a token or a password).
	for _, name := range []string{"token", "nkey", "nats"} {
		_ = os.Unsetenv(envName(name))
	}
	return farm.ServeAgent(ctx, cfg)
}

// parseInitArgs decodes --init-args, a JSON array; its whole numbers
// become int64s, the others float64s, at any depth.
func parseInitArgs(s string) ([]any, error) {
	if s == "" {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var args []any
	if err := d.Decode(&args); err != nil {
		return nil, fmt.Errorf("--init-args %q: want a JSON array: %v", s, err)
	}
	if d.More() {
		return nil, fmt.Errorf("--init-args %q: want one JSON array", s)
	}
	for i, a := range args {
		args[i] = numbers(a)
	}
	return args, nil
}

// numbers replaces the json.Numbers in v.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}
