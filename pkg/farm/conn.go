package farm

import (
	"context"
	"strconv"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/wire"
)

// ExitStatus says how a worker process ended: Code is the exit status, or
// -1 when a signal ended the process (or the end is unknown: another
// process reaped it); Signal names the signal, e.g. "killed", empty for a
// normal exit. Its String method returns "exit status 2" or
// "signal: killed".
type ExitStatus = wire.ExitStatus

// workerConn is the farm's connection to one worker: the dispatcher and a
// slot's watcher reach a worker only through it. A worker process on this
// machine implements it (localWorker); a worker of an agent on another
// machine can too.
//
// The replies come back through the onResponses function given to the
// launcher, on a goroutine of the connection's own.
type workerConn interface {
	// Enqueue adds an attempt to the next batch and reports whether the
	// caller must Flush, once, after its locks are released.
	Enqueue(r wire.Request) bool
	// EnqueueCancel asks the worker to cancel attempt id's context; same
	// report as Enqueue.
	EnqueueCancel(id uint64) bool
	// Flush sends what is pending from the calling goroutine, without
	// blocking on a worker that does not read.
	Flush()
	// Wake hands what is pending to the connection's sender and returns.
	Wake()
	// Done is closed when the connection ends (the worker died, or Stop);
	// Err says why, nil while it is open.
	Done() <-chan struct{}
	Err() error
	// Exited is closed when the worker is gone; ExitStatus blocks until
	// then and says how it ended.
	Exited() <-chan struct{}
	ExitStatus() ExitStatus
	// Stop asks the worker to exit, kills it after grace, and returns when
	// nothing of it is left.
	Stop(grace time.Duration)
	// PID is the worker's process id; Info what it said of itself.
	PID() int
	// SharedMemory is the size in bytes of the arena the host shares with
	// the worker on this connection; 0 for none.
	SharedMemory() int64
	Info() *host.Info
}

// launchSpec is what a launcher needs besides the farm's Config.
type launchSpec struct {
	slot int
	// bin is the executable to start.
	bin binary
	// onStart is called with the pid as soon as the process exists, and a
	// function that kills it; it returns false to have it killed at once.
	onStart func(pid int, kill func()) bool
	// onResponses receives each batch of replies.
	onResponses func([]wire.Response)
}

// launcher starts one worker for a slot.
type launcher func(ctx context.Context, spec launchSpec) (workerConn, error)

// localWorker is a worker process on this machine: a go-plugin
// subprocess and its data plane.
type localWorker struct {
	*host.Conn
	p *host.Process
}

func (l localWorker) Exited() <-chan struct{}  { return l.p.Exited() }
func (l localWorker) ExitStatus() ExitStatus   { return l.p.ExitStatus() }
func (l localWorker) Stop(grace time.Duration) { l.p.Stop(grace) }
func (l localWorker) PID() int                 { return l.p.PID() }
func (l localWorker) Info() *host.Info         { return l.p.Info() }

// launchLocal starts a worker process of spec.bin with f's Config.
func (f *Farm) launchLocal(ctx context.Context, spec launchSpec) (workerConn, error) {
	p, err := host.Launch(ctx, host.LaunchConfig{
		Path:         spec.bin.path,
		Args:         f.cfg.Args,
		Env:          f.workerEnv,
		Dir:          f.cfg.Dir,
		Name:         "worker-" + strconv.Itoa(spec.slot),
		Logger:       f.log,
		LogLevel:     workerLogLevel(f.log),
		SocketDir:    f.sockDir.sockets,
		StartTimeout: f.cfg.StartTimeout,
		Checksum:     spec.bin.sum,
		AutoMTLS:     f.cfg.AutoMTLS,
		MaxMessage:   f.cfg.MaxMessageSize,
		SharedMemory: int(max(f.cfg.SharedMemory, 0)),
		IdleSpin:     hostIdleSpin(f.cfg.IdleSpin),
		KillTimeout:  f.cfg.KillTimeout,
		RawBytes:     f.rawBytes.Load(),
		SkipHostEnv:  f.cfg.SkipHostEnv,
		HostEnv:      f.cfg.HostEnv,
		OnStart:      spec.onStart,
		OnResponses:  spec.onResponses,
	})
	if err != nil {
		return nil, err
	}
	return localWorker{Conn: p.Conn(), p: p}, nil
}

// hostIdleSpin is the host side's window for Config.IdleSpin d; 0: none.
func hostIdleSpin(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultIdleSpin
	case d < 0:
		return 0
	}
	return d
}
