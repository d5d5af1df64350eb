package farm

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// NoRetries as Config.MaxRetries turns retries off: a failed call returns
// its raw error after one attempt.
const NoRetries = -1

// Defaults applied to zero Config fields.
const (
	DefaultMaxConcurrentCallsPerWorker = 10
	DefaultMaxRetries                  = 3
	DefaultKillTimeout                 = 500 * time.Millisecond
	DefaultStartTimeout                = 10 * time.Second
	DefaultMaxMessageSize              = 256 << 20
	DefaultScaleDownAfter              = 10 * time.Second
	DefaultSharedMemory                = 64 << 20
	DefaultIdleSpin                    = wire.DefaultIdleSpin  // 50 µs
	DefaultWorkerHeapFloor             = wire.DefaultHeapFloor // 32 MiB
)

// IdleSpinOff as Config.IdleSpin turns idle spin off.
const IdleSpinOff = -1

// WorkerHeapFloorOff as Config.WorkerHeapFloor gives the workers no heap
// floor.
const WorkerHeapFloorOff = -1

// MaxWorkerHeapFloor is the highest Config.WorkerHeapFloor: 1 TiB.
const MaxWorkerHeapFloor = wire.MaxHeapFloor

// MaxIdleSpin is the longest Config.IdleSpin.
const MaxIdleSpin = wire.MaxIdleSpin // 1 s

// SharedMemoryOff as Config.SharedMemory turns shared memory off.
const SharedMemoryOff = -1

// MinSharedMemory is the least positive Config.SharedMemory: room for a
// few blocks of the smallest size that goes through shared memory.
const MinSharedMemory = 1 << 20

// MaxSharedMemory is the largest Config.SharedMemory: 1 TiB, or on a
// 32-bit platform 2 GiB less 1 MiB (an arena's size is an int there).
const MaxSharedMemory = min(1<<40, math.MaxInt-1<<20)

// MaxMessageSizeLimit is the largest Config.MaxMessageSize: a frame on the
// wire holds at most 2 GiB - 1, the payload and its envelope (ids, names).
const MaxMessageSizeLimit = 1<<31 - 1 - 1<<20

// MaxWorkers is the largest Config.Workers: the host holds one thread
// waiting on each worker process, and the Go runtime allows 10,000.
const MaxWorkers = 8192

// LogEnv is the environment variable that sets the level of the default
// logger, for the farm and its workers: "trace", "debug", "info", "warn"
// (the default), "error" or "off". It is read by New when Config.Logger is
// nil.
const LogEnv = "WORKESTRATOR_LOG"

// Config configures a [Farm]. The zero value of every field but Path means
// the documented default; New never modifies the caller's Config.
type Config struct {
	// Path is the worker executable, built with pkg/plugin, or a script
	// with a #! line (a Node.js worker). Required. A relative Path is
	// relative to Dir when Dir is set, else to the host's working
	// directory (os/exec's rule with Cmd.Dir); it is never looked up in
	// PATH. New resolves it once to an absolute path: later changes of the
	// host's working directory do not move it, and the file that is
	// checked (Checksum) is the file that runs.
	Path string
	// Args are the worker's command-line arguments.
	Args []string
	// Env holds extra KEY=VALUE environment entries for the worker; they win
	// over the host's environment.
	//
	// By default a worker inherits the host's whole environment (cloud
	// keys, tokens, database URLs included) and runs as the host's user;
	// SkipHostEnv and HostEnv narrow what it gets. Workers run with
	// GOMAXPROCS=1 (one of Workers processes per core) unless Env or the
	// environment passed from the host sets GOMAXPROCS.
	Env []string
	// SkipHostEnv, when set, gives the workers none of the host's
	// environment: only the variables HostEnv names, Env, and what the farm
	// itself sets (the handshake, the log level, GOMAXPROCS). PATH is not
	// passed either unless HostEnv names it or Env sets it; a
	// "#!/usr/bin/env node" script then finds node only in /bin:/usr/bin.
	SkipHostEnv bool
	// HostEnv names the host variables a worker gets even with
	// SkipHostEnv, e.g. "PATH", "HOME", "LANG", "LC_*": a name ending in
	// '*' passes every variable with that prefix. Without SkipHostEnv it
	// has no effect (everything passes).
	HostEnv []string
	// Dir is the worker's working directory; empty means the host's. A
	// relative Dir is relative to the host's working directory when New
	// runs; a Dir that does not exist makes the start fail with an error
	// naming Dir.
	Dir string
	// Init, when its Method is set, is called on every worker after it
	// starts and before it takes any call, replacements included (TTL,
	// idle, crash, memory limit, Reload): per-process setup such as
	// loading a model. It runs alone on the worker, before the worker is
	// online, bounded by StartTimeout (its own, after the handshake's). An
	// Init that fails (an error, a panic, an unknown method, a crash, no
	// answer) fails the start: New returns a *StartError that unwraps to
	// the Init's error (a *RemoteError for the worker's own failures);
	// later, the slot retries with the backoff of any failed start. The
	// zero Init runs nothing.
	Init Init

	// Workers is the number of worker processes; 0 means runtime.NumCPU(),
	// at most MaxWorkers. New starts them a few at a time and stops at the
	// first that fails, so a value beyond what the machine can run (file
	// descriptors, processes, memory) is a clear error, not a crash.
	Workers int
	// MinWorkers, when below Workers, makes the farm elastic: it starts
	// MinWorkers workers, starts more (up to Workers) while calls wait for a
	// worker, and stops those above MinWorkers after they idle
	// ScaleDownAfter. 0 means Workers: a fixed pool.
	MinWorkers int
	// ScaleDownAfter is how long a worker above MinWorkers may have nothing
	// in flight before it is stopped; 0 means 10 s.
	ScaleDownAfter time.Duration
	// MaxConcurrentCalls caps the calls queued plus in flight; one more is
	// refused with ErrMaxConcurrentCalls. 0 means unlimited.
	MaxConcurrentCalls int
	// MaxConcurrentCallsPerWorker caps the calls in flight on one worker;
	// 0 means 10.
	MaxConcurrentCallsPerWorker int

	// MaxRetries is how many times a failed call is run again; 0 means 3,
	// NoRetries means none.
	MaxRetries int
	// RetryBackoff, when positive, delays each retry: the n-th retry waits
	// RetryBackoff×2^(n-1), at most 30 s. 0 means retry at once.
	RetryBackoff time.Duration
	// RetryIf, when set, is asked whether a retryable failure should be
	// retried. It is never asked about failures that are never retried.
	// It runs on a goroutine of its own for each failed attempt (so
	// concurrently when several fail at once), outside the farm's lock: it
	// may call the farm (Stats, say) and take its time, while the call
	// waits as if in a retry backoff. Kill does not wait for it: a Kill
	// settles the call, and the answer of a RetryIf still running is
	// ignored. A RetryIf that panics answers no, and the panic is logged.
	RetryIf func(err error) bool

	// Timeout bounds each attempt from its dispatch; 0 means none. A call
	// still running in the worker KillTimeout after its timeout gets its
	// worker recycled.
	Timeout time.Duration
	// TTL is the number of calls a worker takes before it is replaced;
	// 0 means no limit.
	TTL int
	// MaxIdleTime recycles a worker with nothing in flight for that long;
	// 0 means never.
	MaxIdleTime time.Duration
	// KillTimeout is how long a stopping worker may take to exit before it
	// is killed with SIGKILL (its whole process group); 0 means 500 ms. It
	// is the one bound of stopping: Kill returns within it plus a
	// twentieth, and the host reads an ended worker's pipes at most that
	// long for its last lines.
	KillTimeout time.Duration
	// StartTimeout bounds a worker's start and handshake; 0 means 10 s.
	StartTimeout time.Duration

	// MaxWorkerMemory is a soft limit, in bytes, on each worker's resident
	// memory (RSS, from /proc/<pid>/statm; Linux only); 0 means none. The
	// pages of the worker's shared-memory arena (SharedMemory) are the
	// host's: when the RSS is over a limit and the worker's connection
	// has an arena, its resident shared memory (RssShmem of
	// /proc/<pid>/status) is subtracted, at most the arena's size. Any
	// other shared memory counts, and a worker without an arena (gRPC
	// stream, Node.js) is measured as it is. A
	// worker over it is replaced as at its TTL: its replacement starts at
	// once, and when it is online the worker takes no more calls,
	// finishes those it runs and stops (EventMemory). No call is lost,
	// failed or refused. While the replacement fails to start, the worker
	// keeps serving; MaxWorkerMemoryHard bounds it then.
	MaxWorkerMemory int64
	// MaxWorkerMemoryHard is a hard limit, in bytes, on each worker's
	// resident memory, counted as for MaxWorkerMemory; 0 means none. A worker over it is killed at once
	// (SIGKILL, EventMemoryKill), like a crash: its calls fail with a
	// *WorkerExitError whose Cause is a *MemoryError, and follow the retry
	// policy. When both limits are set, it must be at least
	// MaxWorkerMemory.
	MaxWorkerMemoryHard int64
	// MemoryCheckInterval is the period of the RSS samples when a memory
	// limit is set; 0 means 1 s, and it must be at least 1 ms. A worker is
	// also sampled after it answers calls, unless its last sample is less
	// than a tenth of MemoryCheckInterval old. Without a memory limit
	// nothing is sampled.
	MemoryCheckInterval time.Duration

	// Serializer encodes arguments and results; nil means serializer.JSON.
	// A custom serializer must also be given to the worker's plugin.Serve.
	Serializer serializer.Serializer
	// MaxMessageSize caps the encoded arguments of a call and its result,
	// in bytes; 0 means 256 MiB. A []byte argument counts at its size as
	// the serializer encodes it (base64 under JSON: 4/3 of its length),
	// even when it travels raw, since a worker without raw bytes (a
	// Node.js worker, one reached through an agent) gets it so; a Go
	// worker's []byte result, which always travels raw, counts at its
	// length.
	MaxMessageSize int
	// SharedMemory is the size in bytes of the shared memory each worker
	// connection gets (Linux, a Go worker, the socket data plane: not the
	// gRPC stream, AutoMTLS, or a Node.js worker); 0 means 64 MiB, and
	// SharedMemoryOff (or any negative value) none. A call whose []byte
	// arguments total at least 32 KiB has them copied into a block of it
	// instead of written on the socket, and a []byte result of at least
	// 32 KiB comes back the same way when it fits in its call's block,
	// which is as large as the call's arguments or the method's last big
	// result, whichever is larger. A call that does not fit in the free
	// space goes on the socket as without it: it never waits or fails for
	// lack of room. A page takes memory once a call has used it, and
	// keeps it after its block is freed, until the worker exits: up to
	// SharedMemory bytes per worker, Workers × SharedMemory in all (shared
	// by the host and its worker, counted once). A lower SharedMemory, a
	// TTL or SharedMemoryOff lowers that. The memory limits do not count
	// the arena's pages against the worker (see MaxWorkerMemory). A worker
	// that declines the arena is served without one. Positive values are
	// rounded up to a page and must be at least 1 MiB (at most
	// MaxSharedMemory); below
	// MaxConcurrentCallsPerWorker × the usual arguments, some calls go on
	// the socket.
	SharedMemory int64
	// IdleSpin is how long a side of a worker connection that expects the
	// other side's next message polls its socket before it sleeps (the
	// socket data plane): the host while at most one call is in flight on
	// the connection, a Go worker after it answered its calls. A caller
	// that calls one at a time then gets its answer, and the worker its
	// next call, without waking a sleeping thread, which on many machines
	// costs tens of microseconds when the message comes from another CPU.
	// The poll yields to the process's other goroutines. It costs a side
	// up to IdleSpin of CPU each time it waits for a message: the host,
	// with one call in flight, until IdleSpin after the call was sent,
	// then again after the answer for the next call; the worker after
	// each call ends. A host with several calls in flight on a worker does
	// not poll, nor does a worker with GOMAXPROCS above 1 while calls run,
	// nor more readers of a process at once than GOMAXPROCS-1 (at least
	// one). The host and a Go worker poll only while it pays: after 4
	// waits in a row whose message came after the window (calls longer
	// than IdleSpin, or a caller that waits longer between them), a side
	// polls for one wait in 16, until a message comes within the window
	// again. 0 means DefaultIdleSpin (50 µs) for the
	// host, and the worker's own default (a Go worker's is the same, a
	// Node.js worker's 100 µs); IdleSpinOff (any negative value) turns it
	// off. A value other than 0 is passed on to the workers as
	// WORKESTRATOR_IDLE_SPIN_US, unless Env sets that variable. At most
	// MaxIdleSpin.
	IdleSpin time.Duration

	// WorkerHeapFloor is, in bytes, the least heap goal of a Go worker's
	// garbage collector: after each collection the worker sets its GC
	// percent so that the next goal is WorkerHeapFloor, or the goal
	// GOGC=100 gives when that is higher. A worker whose calls allocate big
	// transient values (a megabyte argument or result each) then collects
	// every twenty calls or so instead of every second one. The cost: a
	// worker whose heap once reached the floor keeps about that much
	// resident until it exits, Workers × WorkerHeapFloor in all. 0 means
	// DefaultWorkerHeapFloor (32 MiB), or a quarter of the lower memory
	// limit (MaxWorkerMemory, MaxWorkerMemoryHard) when that is less;
	// WorkerHeapFloorOff (any negative value) none. A positive value must
	// be at most half the lower memory limit, and at most
	// MaxWorkerHeapFloor. It reaches the workers as
	// WORKESTRATOR_HEAP_FLOOR_BYTES, unless Env sets that variable (or,
	// when WorkerHeapFloor is 0 and no memory limit lowers the default,
	// the host's environment the workers inherit does). A worker whose
	// environment sets GOGC or GOMEMLIMIT to anything but the empty string
	// has no floor, nor one whose code changed its GC percent or memory
	// limit before plugin.Serve; while its code has set a GC percent or a
	// memory limit of its own, the floor leaves it alone. Node.js workers
	// ignore it.
	WorkerHeapFloor int64

	// HostHeapReserve is, in bytes, the heap reserve of the host process:
	// one allocation that nothing reads or writes (on Linux its pages are
	// given back, so it is not resident), which the garbage collector
	// counts as live heap. At GOGC=100 it raises the heap goal by twice
	// the reserve and the room for garbage between collections by the
	// reserve: a host whose calls return big values (a megabyte each)
	// collects every few dozen calls instead of every few. The cost: that
	// much more garbage between collections, resident at the peak; and the
	// reserve shows as live heap in runtime.MemStats and heap profiles
	// (allocated by holdHeapReserve), and counts against a memory limit
	// set after it was made. The reserve is the process's, shared by its
	// farms: the largest any of them asked for, made when New has started
	// the workers and held for the life of the process. 0 means
	// DefaultHostHeapReserve (64 MiB, or an eighth of the process's cgroup
	// memory limit when that is less); HostHeapReserveOff (any negative
	// value) none. A positive value must be from MinHostHeapReserve to
	// MaxHostHeapReserve. A process whose environment sets GOGC or
	// GOMEMLIMIT, or whose code set a GC percent other than 100 or a
	// memory limit (runtime/debug), before New gets no reserve, explicit
	// or not: its GC settings stand as chosen (logged at debug level).
	// While the process holds a reserve, a farm makes no result buffers
	// for Call and RunMethod (see "The wire" in the README).
	HostHeapReserve int64

	// resultBuffers makes the farm make result buffers, reserve or not:
	// for tests of them (export_test.go).
	resultBuffers bool
	// eventMask is the event types OnEvent takes, bit t for EventType t;
	// 0: all. An agent's farm, whose listener only watches its workers
	// come and go, takes no per-call events.
	eventMask uint64
	// startCtx, when set, cuts New short when it ends: New kills the
	// farm and returns ErrFarmKilled (an agent stopped while its workers
	// start).
	startCtx context.Context

	// Logger receives the farm's logs and the workers' re-logged lines;
	// nil means a logger on stderr at the level LogEnv says (warn by default).
	Logger hclog.Logger
	// OnEvent, when set, receives every Event in order, on a goroutine of
	// its own; a slow or panicking listener never blocks dispatch.
	OnEvent func(Event)

	// Checksum is a SHA-256 the worker executable must match before every
	// start; nil means no check. The file is opened once per start, hashed
	// through that descriptor and executed through it (/proc/self/fd/4 in
	// the worker, which keeps it open): replacing the file after the check
	// cannot change what runs. A #! script runs too; its interpreter gets
	// /proc/self/fd/4 as the script's path (Node.js resolves it to the
	// real file, so relative requires work; a shell script's $0 is that).
	// Writing into the very file in place is not guarded against.
	Checksum []byte
	// AutoMTLS secures each worker connection with one-off TLS
	// certificates (about 10 ms more per start).
	AutoMTLS bool

	// Remote, when set, adds the workers of the agents of a NATS pool to
	// the farm's (see RemoteConfig). With Remote, Path may be empty: the
	// farm then has no local worker (Workers must be 0).
	Remote *RemoteConfig
}

// withDefaults validates c and returns a copy with defaults applied.
func (c Config) withDefaults() (Config, error) {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrInvalidConfig, field, v, why)
	}
	local := c.Path != "" || c.Remote == nil
	if c.Remote != nil {
		r, err := c.Remote.withDefaults()
		if err != nil {
			return c, err
		}
		c.Remote = &r
		if !local && c.Workers != 0 {
			return c, bad("Workers", c.Workers, "local workers need a Path")
		}
	}
	switch {
	case c.Path == "" && c.Remote == nil:
		return c, bad("Path", `""`, "the worker executable is required")
	case c.Workers < 0:
		return c, bad("Workers", c.Workers, "must be 0 (one per CPU) or positive")
	case c.Workers > MaxWorkers:
		return c, bad("Workers", c.Workers, fmt.Sprintf("must be at most %d (MaxWorkers)", MaxWorkers))
	case c.MinWorkers < 0:
		return c, bad("MinWorkers", c.MinWorkers, "must be 0 (Workers) or positive")
	case c.ScaleDownAfter < 0:
		return c, bad("ScaleDownAfter", c.ScaleDownAfter, "must be 0 (10s) or positive")
	case c.MaxConcurrentCalls < 0:
		return c, bad("MaxConcurrentCalls", c.MaxConcurrentCalls, "must be 0 (unlimited) or positive")
	case c.MaxConcurrentCallsPerWorker < 0:
		return c, bad("MaxConcurrentCallsPerWorker", c.MaxConcurrentCallsPerWorker, "must be 0 (10) or positive")
	case c.MaxRetries < NoRetries:
		return c, bad("MaxRetries", c.MaxRetries, "must be NoRetries (-1), 0 (3) or positive")
	case c.RetryBackoff < 0:
		return c, bad("RetryBackoff", c.RetryBackoff, "must not be negative")
	case c.Timeout < 0:
		return c, bad("Timeout", c.Timeout, "must be 0 (none) or positive")
	case c.TTL < 0:
		return c, bad("TTL", c.TTL, "must be 0 (no limit) or positive")
	case c.MaxIdleTime < 0:
		return c, bad("MaxIdleTime", c.MaxIdleTime, "must be 0 (never) or positive")
	case c.KillTimeout < 0:
		return c, bad("KillTimeout", c.KillTimeout, "must be 0 (500ms) or positive")
	case c.StartTimeout < 0:
		return c, bad("StartTimeout", c.StartTimeout, "must be 0 (10s) or positive")
	case c.MaxWorkerMemory < 0:
		return c, bad("MaxWorkerMemory", c.MaxWorkerMemory, "must be 0 (no limit) or positive")
	case c.MaxWorkerMemoryHard < 0:
		return c, bad("MaxWorkerMemoryHard", c.MaxWorkerMemoryHard, "must be 0 (no limit) or positive")
	case c.MaxWorkerMemoryHard > 0 && c.MaxWorkerMemoryHard < c.MaxWorkerMemory:
		return c, bad("MaxWorkerMemoryHard", c.MaxWorkerMemoryHard, fmt.Sprintf("must be at least MaxWorkerMemory (%d)", c.MaxWorkerMemory))
	case c.MemoryCheckInterval < 0 || (c.MemoryCheckInterval > 0 && c.MemoryCheckInterval < minMemoryCheckInterval):
		return c, bad("MemoryCheckInterval", c.MemoryCheckInterval, "must be 0 (1s) or at least 1ms")
	case !rssSupported && (c.MaxWorkerMemory > 0 || c.MaxWorkerMemoryHard > 0):
		return c, bad("MaxWorkerMemory", c.MaxWorkerMemory, "memory limits need /proc (Linux)")
	case c.MaxMessageSize < 0:
		return c, bad("MaxMessageSize", c.MaxMessageSize, "must be 0 (256 MiB) or positive")
	case c.MaxMessageSize > MaxMessageSizeLimit:
		return c, bad("MaxMessageSize", c.MaxMessageSize, fmt.Sprintf("must be at most %d (2 GiB less a frame's envelope)", MaxMessageSizeLimit))
	case c.SharedMemory > 0 && c.SharedMemory < MinSharedMemory:
		return c, bad("SharedMemory", c.SharedMemory, "must be negative (off), 0 (64 MiB) or at least 1 MiB")
	case c.SharedMemory > MaxSharedMemory:
		return c, bad("SharedMemory", c.SharedMemory, fmt.Sprintf("must be at most %d (1 TiB; 2 GiB less 1 MiB on a 32-bit platform)", int64(MaxSharedMemory)))
	case c.IdleSpin > MaxIdleSpin:
		return c, bad("IdleSpin", c.IdleSpin, fmt.Sprintf("must be at most %v (negative: off, 0: %v)", MaxIdleSpin, DefaultIdleSpin))
	case c.WorkerHeapFloor > MaxWorkerHeapFloor:
		return c, bad("WorkerHeapFloor", c.WorkerHeapFloor, fmt.Sprintf("must be at most %d (MaxWorkerHeapFloor; negative: none, 0: %d)", int64(MaxWorkerHeapFloor), DefaultWorkerHeapFloor))
	case c.WorkerHeapFloor > 0 && memoryLimit(c) > 0 && c.WorkerHeapFloor > memoryLimit(c)/2:
		return c, bad("WorkerHeapFloor", c.WorkerHeapFloor, fmt.Sprintf("must be at most half the lower memory limit (%d): a worker's garbage would reach it", memoryLimit(c)))
	case c.HostHeapReserve > 0 && (c.HostHeapReserve < MinHostHeapReserve || c.HostHeapReserve > MaxHostHeapReserve):
		return c, bad("HostHeapReserve", c.HostHeapReserve, fmt.Sprintf("must be from %d to %d (MinHostHeapReserve, MaxHostHeapReserve; negative: none, 0: %d)", MinHostHeapReserve, int64(MaxHostHeapReserve), DefaultHostHeapReserve))
	case c.Checksum != nil && len(c.Checksum) != 32:
		return c, bad("Checksum", fmt.Sprintf("%d bytes", len(c.Checksum)), "a SHA-256 checksum has 32 bytes")
	case c.Serializer != nil && c.Serializer.Name() == "":
		return c, bad("Serializer", fmt.Sprintf("%T", c.Serializer), "has an empty name")
	}
	if err := c.Init.validate(); err != nil {
		return c, err
	}
	for i, n := range c.HostEnv {
		if !host.ValidHostEnvName(n) {
			return c, bad(fmt.Sprintf("HostEnv[%d]", i), fmt.Sprintf("%q", n), "must be a variable name, or a prefix ending in '*'")
		}
	}
	for i, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return c, bad(fmt.Sprintf("Env[%d]", i), fmt.Sprintf("%q", kv), "must be KEY=VALUE")
		}
		if strings.ContainsRune(kv, 0) {
			return c, bad(fmt.Sprintf("Env[%d]", i), fmt.Sprintf("%q", kv), "holds a NUL byte, which no environment can")
		}
	}
	for i, a := range c.Args {
		if strings.ContainsRune(a, 0) {
			return c, bad(fmt.Sprintf("Args[%d]", i), fmt.Sprintf("%q", a), "holds a NUL byte, which no argument can")
		}
	}
	if strings.ContainsRune(c.Path, 0) || strings.ContainsRune(c.Dir, 0) {
		return c, bad("Path", fmt.Sprintf("%q (Dir %q)", c.Path, c.Dir), "holds a NUL byte, which no file name can")
	}
	if c.Workers == 0 && local {
		c.Workers = runtime.NumCPU()
	}
	switch {
	case c.MinWorkers == 0:
		c.MinWorkers = c.Workers
	case c.MinWorkers > c.Workers:
		return c, bad("MinWorkers", c.MinWorkers, fmt.Sprintf("must be at most Workers (%d)", c.Workers))
	}
	if c.ScaleDownAfter == 0 {
		c.ScaleDownAfter = DefaultScaleDownAfter
	}
	if c.MaxConcurrentCallsPerWorker == 0 {
		c.MaxConcurrentCallsPerWorker = DefaultMaxConcurrentCallsPerWorker
	}
	switch c.MaxRetries {
	case 0:
		c.MaxRetries = DefaultMaxRetries
	case NoRetries:
		c.MaxRetries = 0
	}
	if c.KillTimeout == 0 {
		c.KillTimeout = DefaultKillTimeout
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.MemoryCheckInterval == 0 {
		c.MemoryCheckInterval = DefaultMemoryCheckInterval
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	switch {
	case c.SharedMemory == 0:
		c.SharedMemory = DefaultSharedMemory
	case c.SharedMemory < 0:
		c.SharedMemory = SharedMemoryOff
	}
	if c.Serializer == nil {
		c.Serializer = serializer.JSON
	}
	if c.Logger == nil {
		c.Logger = defaultLogger()
	}
	if local {
		c.Path, c.Dir = resolvePath(c.Path, c.Dir)
	}
	c.Args = append([]string(nil), c.Args...)
	c.HostEnv = append([]string(nil), c.HostEnv...)
	c.Env = append([]string(nil), c.Env...)
	c.Init.Args = append([]any(nil), c.Init.Args...)
	c.Checksum = append([]byte(nil), c.Checksum...)
	return c, nil
}

// defaultLogger logs to stderr at the level LogEnv names, warn by default.
func defaultLogger() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(LogEnv))
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{Name: "workestrator", Level: level, Output: os.Stderr})
}

// workerLogLevel is the level name passed to workers: the logger's own.
func workerLogLevel(l hclog.Logger) string {
	switch l.GetLevel() {
	case hclog.Trace:
		return "trace"
	case hclog.Debug:
		return "debug"
	case hclog.Info:
		return "info"
	case hclog.Warn:
		return "warn"
	case hclog.Error:
		return "error"
	case hclog.Off:
		return "off"
	}
	return "info"
}
