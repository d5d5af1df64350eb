package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"

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
	// Path of the worker executable.
	Path string
	// Args, Env and Dir are the command's arguments, extra environment
	// (KEY=VALUE, winning over the host's) and working directory.
	Args []string
	Env  []string
	Dir  string
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
	Checksum []byte
	// AutoMTLS secures the connection with one-off certificates. The data
	// plane then uses the gRPC stream (TLS), not the worker's socket.
	AutoMTLS bool
	// GRPCStream makes the data plane use the gRPC stream even when the
	// worker offers its faster socket; so does WORKESTRATOR_DATA_PLANE=grpc
	// in the host's environment.
	GRPCStream bool
	// KillTimeout tells the worker how long its shutdown may take; past it,
	// a worker whose host died exits on its own.
	KillTimeout time.Duration
	// MaxMessage is the largest arguments or result of a call, in bytes;
	// zero means 256 MiB. It bounds every frame of the data plane too.
	MaxMessage int
	// OnStart, when set, is called with the pid as soon as the process
	// started; if it returns false the process is killed at once.
	OnStart func(pid int) bool
	// OnResponses receives each batch of responses from the receive loop.
	OnResponses func([]Response)
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

	handshook bool // go-plugin connected: its Kill has state to release

	stopOnce sync.Once
	stopped  chan struct{}
}

// Launch starts a worker process, completes the handshake, checks the
// protocol version with Describe and opens the data plane (the worker's
// socket when it offers one, else the gRPC stream). On error
// no process is left behind.
func Launch(ctx context.Context, cfg LaunchConfig) (*Process, error) {
	if err := checkExecutable(cfg.Path); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	p := &Process{cfg: cfg, stderr: &tail{}, stopped: make(chan struct{})}
	p.run = &procRunner{cfg: &p.cfg}
	log := cfg.Logger
	p.client = goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginSet(),
		RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, sockDir string) (runner.Runner, error) {
			return p.run.prepare(spec, sockDir)
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           quietStdio{log},
		StartTimeout:     cfg.StartTimeout,
		UnixSocketConfig: &goplugin.UnixSocketConfig{TempDir: cfg.SocketDir},
		AutoMTLS:         cfg.AutoMTLS,
		Stderr:           p.stderr,
		SyncStdout:       &lineLogger{log: log.Named(cfg.Name), stream: "stdout"},
		SyncStderr:       &lineLogger{log: log.Named(cfg.Name), stream: "stderr"},
		GRPCDialOptions:  grpcDialOptions(cfg.MaxMessage),
	})
	rpc, err := p.client.Client()
	if err != nil {
		serr := p.startError(err)
		p.abort()
		return nil, serr
	}
	p.handshook = true
	raw, err := rpc.Dispense(PluginName)
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
	if info.ProtocolVersion != ProtocolVersion {
		p.abort()
		return nil, fmt.Errorf("worker %s: %w: it speaks %d, the host %d",
			cfg.Path, ErrProtocolVersion, info.ProtocolVersion, ProtocolVersion)
	}
	p.info = info
	onResponses := cfg.OnResponses
	if onResponses == nil {
		onResponses = func([]Response) {}
	}
	tr, err := p.openDataPlane(ctx, wc, info)
	if err != nil {
		p.abort()
		return nil, fmt.Errorf("worker %s: %w", cfg.Path, err)
	}
	p.conn = newConn(wc, tr, onResponses, newLimits(cfg.MaxMessage))
	return p, nil
}

// useSocket reports whether the data plane may use the worker's socket.
func (c *LaunchConfig) useSocket() bool {
	return !c.GRPCStream && !c.AutoMTLS && os.Getenv(EnvDataPlane) != DataPlaneGRPC
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
		p.cfg.Logger.Warn("worker data plane socket unusable; using the gRPC stream",
			"worker", p.cfg.Name, "address", info.dataPlane, "error", err)
	}
	return openStream(wc)
}

func checkExecutable(path string) error {
	if path == "" {
		return errors.New("worker path is empty")
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("worker binary: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("worker binary %s is a directory", path)
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("worker binary %s is not executable (mode %s)", path, st.Mode().Perm())
	}
	return nil
}

// startError explains a failed start, with the last lines the program
// wrote on stderr.
func (p *Process) startError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Incompatible API version"), strings.Contains(msg, "incompatible API version"):
		err = fmt.Errorf("%w: %v", ErrProtocolVersion, err)
	case errors.Is(err, ErrChecksumMismatch):
	case p.exitedSoon():
		err = fmt.Errorf("%w: it exited with %v before the handshake", ErrNotWorker, p.run.status)
		// Its last words are on stderr: let go-plugin copy them first.
		if p.run.stderrDone != nil {
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-p.run.stderrDone:
			case <-t.C:
			}
			t.Stop()
		}
	case strings.Contains(msg, "Unrecognized remote plugin message"),
		strings.Contains(msg, "exited before we could connect"),
		strings.Contains(msg, "timeout while waiting for plugin to start"),
		strings.Contains(msg, "core API version"):
		first, _, _ := strings.Cut(msg, "\n")
		err = fmt.Errorf("%w: %s", ErrNotWorker, first)
	}
	if t := p.stderr.String(); t != "" {
		return fmt.Errorf("worker %s: %w; its stderr ends with:\n%s", p.cfg.Path, err, t)
	}
	return fmt.Errorf("worker %s: %w", p.cfg.Path, err)
}

// exitedSoon reports whether a process that failed its start has exited on
// its own, waiting a little for the exit to be seen.
func (p *Process) exitedSoon() bool {
	if p.run.exited == nil || p.run.pid == 0 {
		return false
	}
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-p.run.exited:
		return p.run.status.Signal != "killed"
	case <-t.C:
		return false
	}
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
func (p *Process) ExitStatus() ExitStatus {
	<-p.run.exited
	return p.run.status
}

// Stop asks the worker to exit (lifeline closed, SIGTERM), waits up to grace,
// then kills its process group with SIGKILL. It returns once the process is
// gone and every resource of it released; it never hangs on a frozen worker
// or on a grandchild that holds the worker's pipes. Safe to call more than
// once and concurrently: later calls wait for the first.
func (p *Process) Stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		defer close(p.stopped)
		r := p.run
		if r.exited != nil && r.pid > 0 {
			select {
			case <-r.exited:
			default:
				r.lifeline.Close()
				_ = syscall.Kill(r.pid, syscall.SIGTERM)
				t := time.NewTimer(grace)
				select {
				case <-r.exited:
				case <-t.C:
				}
				t.Stop()
			}
			// SIGKILL the group: the worker if it is still there, and any
			// child it left behind.
			_ = r.Kill(context.Background())
			<-r.exited
		}
		if p.conn != nil {
			p.conn.Close()
		}
		// The process is gone: go-plugin's Kill only releases its own
		// goroutines and the socket directory now. After a failed start
		// go-plugin has released them itself.
		if p.handshook {
			p.client.Kill()
		}
		if r.sockDir != "" {
			_ = os.RemoveAll(r.sockDir)
		}
	})
	<-p.stopped
}

// lineLogger re-logs what a worker writes on its redirected stdout or
// stderr, line by line, at info level. A line longer than maxLogLine is
// cut there; the rest of it is dropped.
type lineLogger struct {
	log    hclog.Logger
	stream string
	mu     sync.Mutex
	part   []byte
	skip   bool // dropping the rest of a line that was too long
}

// maxLogLine is the longest line of a worker's output that is re-logged.
const maxLogLine = 64 << 10

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !l.skip {
				l.add(b)
			}
			break
		}
		if !l.skip {
			l.add(b[:i])
			if !l.skip {
				l.log.Info(string(l.part), "stream", l.stream)
			}
		}
		l.part = l.part[:0]
		l.skip = false
		b = b[i+1:]
	}
	if len(l.part) == 0 && cap(l.part) > maxLogLine {
		l.part = nil
	}
	return n, nil
}

// add appends to the current line, or logs it cut if it gets too long.
func (l *lineLogger) add(b []byte) {
	if room := maxLogLine - len(l.part); len(b) > room {
		l.part = append(l.part, b[:room]...)
		l.log.Info(string(l.part), "stream", l.stream, "truncated", true)
		l.part = l.part[:0]
		l.skip = true
		return
	}
	l.part = append(l.part, b...)
}
