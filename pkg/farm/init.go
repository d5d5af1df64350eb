package farm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/wire"
)

// Init is a call run on every worker after it starts and before it takes
// any other call: the first workers, and every replacement (after a TTL,
// an idle time, a crash, a memory limit, a Reload). It sets up what each
// worker process needs, as the initializer and initargs of Python's
// ProcessPoolExecutor do: state set by Init survives recycling, where the
// state set by a Broadcast is lost with the worker that got it.
//
// The zero Init runs nothing.
type Init struct {
	// Method is the worker method to call; empty means no Init.
	Method string
	// Args are its arguments, encoded once by New with Config.Serializer:
	// every worker gets the same bytes. An argument that does not encode
	// makes New fail with ErrInvalidConfig.
	Args []any
}

// validate checks that Args come with a Method.
func (in Init) validate() error {
	if in.Method == "" && len(in.Args) > 0 {
		return fmt.Errorf("%w: Init.Method = \"\": Init.Args need a method to call", ErrInvalidConfig)
	}
	return nil
}

// encodeInit encodes Config.Init's arguments once, for every worker.
func (f *Farm) encodeInit() error {
	if f.cfg.Init.Method == "" {
		return nil
	}
	enc, raw, _, err := f.encodeArgs(f.cfg.Init.Method, f.cfg.Init.Args, nil, nil, false)
	if err != nil {
		return fmt.Errorf("%w: Init: %w", ErrInvalidConfig, err)
	}
	if raw != 0 {
		enc = f.encodeRaw(enc, raw) // any worker can run it
	}
	f.initArgs = enc
	return nil
}

// initRun is the Init call of one worker being started. Its reply comes
// through the worker's receive goroutine, before any other reply: no other
// call can reach the worker until it is answered.
type initRun struct {
	id    uint64 // the call's wire id, from the farm's sequence
	done  chan error
	taken atomic.Bool
}

func newInitRun(id uint64) *initRun { return &initRun{id: id, done: make(chan error, 1)} }

// take removes the Init's reply from rs, if it is there, and hands its
// outcome (nil, or a *RemoteError) to the waiting start; it returns the
// other replies. With no Init (r nil) or once the reply came, it returns
// rs as it is.
func (f *Farm) takeInit(r *initRun, rs []wire.Response) []wire.Response {
	if r == nil || r.taken.Load() {
		return rs
	}
	for i := range rs {
		if rs[i].ID != r.id {
			continue
		}
		var err error
		if pe := rs[i].Failure; pe != nil {
			re := remoteError(f.cfg.Init.Method, pe, f.cfg.Serializer)
			re.Details = bytes.Clone(re.Details) // rs is reused once we return
			err = re
		}
		r.taken.Store(true)
		r.done <- err
		return slices.Delete(rs, i, i+1)
	}
	return rs
}

// runInit sends Config.Init to a worker that passed its checks and waits
// for the answer, at most StartTimeout; it returns the Init's error, or
// why the worker could not answer (it ended, the farm was killed, ctx
// ended).
func (f *Farm) runInit(ctx context.Context, s *slot, conn workerConn, r *initRun) error {
	method := f.cfg.Init.Method
	req := wire.Request{
		ID:         r.id,
		Method:     method,
		Serializer: f.cfg.Serializer.Name(),
		Args:       f.initArgs,
		Timeout:    f.cfg.StartTimeout,
	}
	if conn.Enqueue(req) {
		conn.Flush()
	}
	t := time.NewTimer(f.cfg.StartTimeout)
	defer t.Stop()
	var err error
	select {
	case err = <-r.done:
	case <-conn.Done():
		err = f.initEnded(s, conn, r)
	case <-conn.Exited():
		err = f.initEnded(s, conn, r)
	case <-t.C:
		err = fmt.Errorf("%w: no answer within StartTimeout (%v)", ErrTimeout, f.cfg.StartTimeout)
	case <-f.killed:
		err = ErrFarmKilled
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("Init %q: %w", method, err)
	}
	return nil
}

// initEnded is the error of a worker that ended during its Init: a
// *WorkerExitError with its exit status, unless its answer came first.
func (f *Farm) initEnded(s *slot, conn workerConn, r *initRun) error {
	select {
	case err := <-r.done:
		return err
	default:
	}
	conn.Stop(f.cfg.KillTimeout)
	exitErr := &WorkerExitError{Slot: s.index, PID: conn.PID(), Status: conn.ExitStatus()}
	if err := conn.Err(); err != nil && !errors.Is(err, host.ErrConnClosed) {
		exitErr.Cause = err
	}
	return exitErr
}
