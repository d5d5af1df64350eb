package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// ErrNotWorker: the program started but did not complete the worker
// handshake (it is not a Workestrator worker, exited, or printed something
// else first).
var ErrNotWorker = errors.New("program is not a workestrator worker")

// ErrProtocolVersion: the worker speaks another version of the protocol.
var ErrProtocolVersion = errors.New("incompatible worker protocol version")

// LaunchConfig says how to start one worker process.
type LaunchConfig struct {
	// Path of the worker executable. A relative Path is relative to Dir
	// when Dir is set, else to the host's working directory (os/exec's
	// rule with Cmd.Dir); it is never looked up in PATH. Launch resolves
	// it once to an absolute path: the file it checks is the file it runs.
	Path string
	// Args are the command's arguments.
	Args []string
	// Env holds extra KEY=VALUE entries for the worker's environment; they
	// win over the host's. By default the worker inherits the host's whole
	// environment (see SkipHostEnv).
	Env []string
	// RawBytes tells the worker that the host reads raw byte-slice results
	// (wire.EnvRawBytes); the host sets it with a built-in serializer.
	RawBytes bool
	// SkipHostEnv, when set, gives the worker none of the host's
	// environment: only the host variables HostEnv names, Env, and the
	// variables of the handshake.
	SkipHostEnv bool
	// HostEnv names the host variables passed with SkipHostEnv; a name
	// ending in '*' matches every variable with that prefix.
	HostEnv []string
	// Dir is the worker's working directory; empty means the host's. A
	// relative Dir is relative to the host's working directory; a Dir that
	// does not exist is an error naming Dir.
	Dir string
	// Name names the worker in logs, e.g. "worker-2".
	Name string
	// Logger receives go-plugin's logs and the worker's re-logged lines.
	Logger hclog.Logger
	// LogLevel is the worker's own log level name; empty means info.
	LogLevel string
	// SocketDir is the directory under which the unix socket directory is
	// made; empty means the system's temporary directory.
	SocketDir string
	// StartTimeout bounds the start and the handshake.
	StartTimeout time.Duration
	// Checksum is the SHA-256 the executable must match before the start.
	// The file is opened once, hashed through that descriptor, and the
	// worker execs the same descriptor (/proc/self/fd/4; a script's
	// interpreter reads it there): replacing the file after the check
	// cannot change what runs.
	Checksum []byte
	// AutoMTLS secures the connection with one-off certificates. The data
	// plane then uses the gRPC stream (TLS), not the worker's socket.
	AutoMTLS bool
	// GRPCStream makes the data plane use the gRPC stream even when the
	// worker offers its faster socket; so does WORKESTRATOR_DATA_PLANE=grpc
	// in the host's environment.
	GRPCStream bool
	// KillTimeout tells the worker how long its shutdown may take; past it,
	// a worker whose host died exits on its own. It also bounds the waits
	// of the host for a process that ended: for its pipes to be read to
	// their end, and after a failed start for its exit (a tenth of it).
	// 0 means 500 ms.
	KillTimeout time.Duration
	// SharedMemory is the size in bytes of the shared-memory arena of the
	// worker's socket data plane (rounded up to a page), used when the
	// worker lists wire.FeatureSharedMemory; 0 or less means none. The
	// gRPC stream (GRPCStream, AutoMTLS) has none.
	SharedMemory int
	// IdleSpin is how long the socket data plane's receive loop polls
	// the socket before it sleeps, while at most one call is in flight
	// (wire.RawConn.SetSpin); 0 or less: it does not.
	IdleSpin time.Duration
	// MaxMessage is the largest arguments or result of a call, in bytes;
	// zero means 256 MiB. It bounds every frame of the data plane too.
	MaxMessage int
	// OnStart, when set, is called as soon as the process started, with
	// its pid and a function that SIGKILLs it and its process group; kill
	// never blocks and is safe to call at any time, from any goroutine,
	// even once the process has ended. If OnStart returns false the
	// process is killed at once.
	OnStart func(pid int, kill func()) bool
	// OnResponses receives each batch of responses from the receive loop.
	OnResponses func([]wire.Response)
}

// killTimeout is KillTimeout or its default.
func (c *LaunchConfig) killTimeout() time.Duration {
	if c.KillTimeout > 0 {
		return c.KillTimeout
	}
	return 500 * time.Millisecond
}

// Process is one running worker process and its connection.
// Safe for concurrent use.
type Process struct {
	cfg    LaunchConfig
	client *goplugin.Client
	run    *procRunner
	conn   *Conn
	info   *Info
	stderr *tail

	stopOnce sync.Once
	stopped  chan struct{}
}

// Launch starts a worker process, completes the handshake, checks the
// protocol version with Describe and opens the data plane (the worker's
// socket when it offers one, else the gRPC stream). On error
// no process is left behind, and nothing of it: goroutines, descriptors.
func Launch(ctx context.Context, cfg LaunchConfig) (*Process, error) {
	if err := checkHostEnv(cfg.HostEnv); err != nil {
		return nil, err
	}
	exe, err := openExecutable(cfg.Path, cfg.Dir, cfg.Checksum)
	if err != nil {
		return nil, err
	}
	defer exe.close()
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	p := &Process{cfg: cfg, stderr: &tail{}, stopped: make(chan struct{})}
	log := cfg.Logger
	p.run = &procRunner{cfg: &p.cfg, exe: exe, stderr: &stderrLog{log: log.Named(cfg.Name), tail: p.stderr}}
	p.client = goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         wire.PluginSet(),
		RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, sockDir string) (runner.Runner, error) {
			return p.run.prepare(spec, sockDir)
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           quietStdio{log},
		StartTimeout:     cfg.StartTimeout,
		UnixSocketConfig: &goplugin.UnixSocketConfig{TempDir: cfg.SocketDir},
		AutoMTLS:         cfg.AutoMTLS,
		SkipHostEnv:      cfg.SkipHostEnv,
		SyncStdout:       &lineLogger{log: log.Named(cfg.Name), stream: "stdout"},
		SyncStderr:       &lineLogger{log: log.Named(cfg.Name), stream: "stderr"},
		GRPCDialOptions:  wire.GRPCDialOptions(cfg.MaxMessage),
	})
	rpc, err := p.client.Client()
	if err != nil {
		serr := p.startError(err)
		p.abort()
		return nil, serr
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		p.abort()
		return nil, fmt.Errorf("worker %s: %w", cfg.Path, err)
	}
	wc := raw.(workerpb.WorkerClient)
	dctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	info, err := describe(dctx, wc)
	cancel()
	if err != nil {
		p.abort()
		return nil, fmt.Errorf("worker %s: describe: %w", cfg.Path, err)
	}
	if info.ProtocolVersion != wire.ProtocolVersion {
		p.abort()
		return nil, fmt.Errorf("worker %s: %w: it speaks %d, the host %d",
			cfg.Path, ErrProtocolVersion, info.ProtocolVersion, wire.ProtocolVersion)
	}
	p.info = info
	onResponses := cfg.OnResponses
	if onResponses == nil {
		onResponses = func([]wire.Response) {}
	}
	tr, err := p.openDataPlane(ctx, wc, info)
	if err != nil {
		p.abort()
		return nil, fmt.Errorf("worker %s: %w", cfg.Path, err)
	}
	p.conn = newConn(wc, tr, onResponses, wire.NewLimits(cfg.MaxMessage))
	return p, nil
}

// sharedMemory is the arena's size, a whole number of pages; 0 for none.
func (c *LaunchConfig) sharedMemory() int {
	if c.SharedMemory <= 0 || !wire.ShmSupported || !c.useSocket() {
		return 0
	}
	page := os.Getpagesize()
	return (c.SharedMemory + page - 1) / page * page
}

// useSocket reports whether the data plane may use the worker's socket.
func (c *LaunchConfig) useSocket() bool {
	return !c.GRPCStream && !c.AutoMTLS && os.Getenv(wire.EnvDataPlane) != wire.DataPlaneGRPC
}

// openDataPlane connects to the worker's data-plane socket when it offers
// one and the config allows it, else opens the gRPC stream.
func (p *Process) openDataPlane(ctx context.Context, wc workerpb.WorkerClient, info *Info) (transport, error) {
	if info.dataPlane != "" && p.cfg.useSocket() {
		dctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
		tr, err := p.dialSocket(dctx, info)
		cancel()
		if err == nil {
			return tr, nil
		}
		if ctx.Err() != nil || p.exitsSoon() {
			// The worker was stopped or died while it set up: its start
			// fails, the gRPC stream would not serve either.
			return nil, fmt.Errorf("data plane socket: %w", err)
		}
		p.cfg.Logger.Warn("worker data plane socket unusable; using the gRPC stream",
			"worker", p.cfg.Name, "address", info.dataPlane, "error", err)
	}
	return openStream(wc)
}

// startError explains a failed start, with the last lines the program
// wrote on stderr. Text that came from the program is escaped.
func (p *Process) startError(err error) error {
	msg := err.Error()
	first, _, _ := strings.Cut(msg, "\n")
	kind := goPluginStartError(msg)
	switch {
	case kind == ErrProtocolVersion:
		err = fmt.Errorf("%w: %s", ErrProtocolVersion, escape(msg))
	case p.exitedAlone():
		err = fmt.Errorf("%w: it exited with %v before the handshake (go-plugin: %s)", ErrNotWorker, p.run.status, escape(first))
	case strings.Contains(msg, startTimeoutText):
		err = fmt.Errorf("%w: no handshake within StartTimeout (%v): not a worker, or one slower to start than that (go-plugin: %s)",
			kind, p.cfg.StartTimeout, escape(first))
	case kind != nil:
		err = fmt.Errorf("%w: %s", kind, escape(first))
	}
	if t := p.stderr.String(); t != "" {
		return fmt.Errorf("worker %s: %w; its stderr ends with:\n%s", p.cfg.Path, err, t)
	}
	return fmt.Errorf("worker %s: %w", p.cfg.Path, err)
}

// goPluginStartErrors are the texts of go-plugin's start failures for which
// it has no error type, and what each means. TestGoPluginStartErrorTexts
// makes go-plugin give each of them, so that an upgrade that changes one
// fails a test. A program that exits before the handshake is told by its
// exit (exitedAlone), whatever go-plugin says of it.
var goPluginStartErrors = []struct {
	text string
	kind error
}{
	{"incompatible API version", ErrProtocolVersion},
	{"incompatible core API version", ErrNotWorker},
	{"Unrecognized remote plugin message", ErrNotWorker},
	{startTimeoutText, ErrNotWorker},
}

// startTimeoutText is go-plugin's error when the handshake did not come
// within StartTimeout.
const startTimeoutText = "timeout while waiting for plugin to start"

// goPluginStartError returns what go-plugin's start error msg means, or
// nil when it is none of goPluginStartErrors.
func goPluginStartError(msg string) error {
	for _, e := range goPluginStartErrors {
		if strings.Contains(msg, e.text) {
			return e.kind
		}
	}
	return nil
}

// exitsSoon reports whether the process ends within a tenth of
// KillTimeout, however it ends.
func (p *Process) exitsSoon() bool {
	if !p.run.started() {
		return false
	}
	t := time.NewTimer(p.cfg.killTimeout() / 10)
	defer t.Stop()
	select {
	case <-p.run.exited:
		return true
	case <-t.C:
		return false
	}
}

// exitedAlone reports whether a process that failed its start ended on its
// own, waiting a tenth of KillTimeout for its end; then it waits, at most
// KillTimeout, for its stderr to be read to its end: its last words.
func (p *Process) exitedAlone() bool {
	r := p.run
	if !p.exitsSoon() || r.status.Signal == "killed" {
		return false
	}
	t := time.NewTimer(p.cfg.killTimeout())
	defer t.Stop()
	select {
	case <-r.stderrDone:
	case <-t.C:
	}
	return true
}

// abort kills a process whose start failed and cleans up after it.
func (p *Process) abort() {
	p.Stop(0)
}

// PID returns the worker's process id.
func (p *Process) PID() int { return p.run.pid }

// Info returns what the worker said of itself at start.
func (p *Process) Info() *Info { return p.info }

// Conn returns the data-plane connection.
func (p *Process) Conn() *Conn { return p.conn }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.run.exited }

// ExitStatus says how the process ended; valid once Exited is closed.
func (p *Process) ExitStatus() wire.ExitStatus {
	<-p.run.exited
	return p.run.status
}

// Stop asks the worker to exit (lifeline closed, SIGTERM), waits up to
// grace, then SIGKILLs its process group. Then it reads what is left in
// the worker's pipes until grace is spent (at least grace/20 past the
// exit): a process outside the group may hold them open forever. It
// returns within grace + grace/20 plus the few milliseconds a SIGKILLed
// process takes to end, with the process gone and every resource of it
// released: goroutines, descriptors, socket directory. It never hangs on a
// frozen worker or on a grandchild that holds the worker's pipes. Call it
// even for a process that exited on its own. Safe to call more than once
// and concurrently: later calls wait for the first.
func (p *Process) Stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		defer close(p.stopped)
		r := p.run
		deadline := time.Now().Add(grace)
		if r.started() {
			select {
			case <-r.exited:
			default:
				r.terminate()
				t := time.NewTimer(grace)
				select {
				case <-r.exited:
				case <-t.C:
				}
				t.Stop()
			}
			r.kill()
			<-r.exited
			if least := time.Now().Add(grace / 20); least.After(deadline) {
				deadline = least
			}
			r.release(deadline)
		}
		if p.conn != nil {
			p.conn.Close()
		}
		// The process is gone and its pipes closed: go-plugin's Kill only
		// waits for its own goroutines and removes the socket directory.
		p.client.Kill()
		if r.sockDir != "" {
			_ = os.RemoveAll(r.sockDir)
		}
	})
	<-p.stopped
}
