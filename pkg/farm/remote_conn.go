package farm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// maxBatch is the size past which the calls for an agent start a new
// message: a message carries many small calls, or one big one.
const maxBatch = 1 << 20

// agentLink is the farm's link to one session of one agent: the calls for
// all its workers share its messages.
type agentLink struct {
	h          *remoteHost
	id, name   string
	session    uint64
	epoch      uint64 // this link's, unique in the farm
	subject    string
	hb         time.Duration
	maxMessage int
	workers    []*worker // by the agent's slot index; set at the join

	// Guarded by the farm's lock.
	lastSeen time.Time
	draining bool
	lost     bool

	mu      sync.Mutex
	batch   []byte   // the encoded calls and cancels of the next message
	ready   [][]byte // full messages waiting for the sender
	rejects map[*remoteConn][]wire.Response

	sendMu sync.Mutex  // messages go out one at a time, in order
	gone   atomic.Bool // set by loseLocked: nothing more is sent
	wake   chan struct{}
	done   chan struct{} // closed when the session is over (loseLocked)
}

// flushDirect is the most a caller's Flush publishes itself; more goes
// through the link's sender goroutine, so that no goroutine of the farm
// (a receive loop) waits for a big message to go out.
const flushDirect = 64 << 10

// remoteConn is a workerConn to one worker slot of an agent.
type remoteConn struct {
	l    *agentLink
	w    *worker
	slot int32

	pid  atomic.Int64
	info *host.Info

	once sync.Once
	shut atomic.Bool
	err  error         // why it ended; set before done is closed
	done chan struct{} // closed by Stop
}

// Enqueue adds r to the agent's next message.
func (c *remoteConn) Enqueue(r wire.Request) bool {
	l := c.l
	args := r.Args
	if r.Loan != nil {
		r.Hold()
		args = r.OwnArgs()
	}
	size := len(r.Method) + len(r.Serializer) + 64
	for _, a := range args {
		size += len(a) + 8
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if size > l.maxMessage {
		// The agent would drop it: answer it here.
		if l.rejects == nil {
			l.rejects = make(map[*remoteConn][]wire.Response)
		}
		l.rejects[c] = append(l.rejects[c], wire.Response{ID: r.ID, Failure: &workerpb.Error{
			Code:    workerpb.Error_TOO_LARGE,
			Message: fmt.Sprintf("a call of %d bytes exceeds the largest message agent %s takes (%d)", size, l.name, l.maxMessage),
		}})
		return true
	}
	first := len(l.batch) == 0 && len(l.ready) == 0
	if len(l.batch) > 0 && len(l.batch)+size > maxBatch {
		l.ready = append(l.ready, l.batch)
		l.batch = nil
	}
	l.batch = remote.AppendCall(l.batch, &remote.Call{
		ID: r.ID, Method: r.Method, Serializer: r.Serializer, Args: args,
		RawArgs: r.RawArgs, Budget: r.Timeout, Slot: c.slot,
	})
	return first
}

// EnqueueCancel adds a cancel of call id to the agent's next message.
func (c *remoteConn) EnqueueCancel(id uint64) bool {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	first := len(l.batch) == 0 && len(l.ready) == 0
	l.batch = remote.AppendCancel(l.batch, id)
	return first
}

// Flush publishes what is pending for the agent when it is small and no
// other message is going out, else hands it to the link's sender.
// Publishing does not wait for the agent: NATS buffers it.
func (c *remoteConn) Flush() {
	l := c.l
	l.mu.Lock()
	small := len(l.ready) == 0 && len(l.batch) <= flushDirect
	l.mu.Unlock()
	if !small || !l.sendMu.TryLock() {
		c.Wake()
		return
	}
	rejects, err := l.publishLocked()
	l.sendMu.Unlock()
	l.answerRejects(rejects, err)
}

// Wake hands what is pending to the agent's sender goroutine.
func (c *remoteConn) Wake() {
	select {
	case c.l.wake <- struct{}{}:
	default:
	}
}

func (l *agentLink) flush() {
	l.sendMu.Lock()
	rejects, err := l.publishLocked()
	l.sendMu.Unlock()
	l.answerRejects(rejects, err)
}

// answerRejects settles the calls answered here (too large to send) and,
// when a message of calls could not be published (err), ends the session
// as if the agent were lost: those calls go through the retry policy
// instead of waiting for answers that cannot come. The agent joins again
// with its next announcement.
func (l *agentLink) answerRejects(rejects map[*remoteConn][]wire.Response, err error) {
	for c, rs := range rejects {
		if !c.closed() {
			var wake []*call // not c.w.wake: that is the replies goroutine's
			l.h.f.answer(c.w, rs, &wake)
		}
	}
	if err != nil {
		f := l.h.f
		f.mu.Lock()
		l.h.loseLocked(l, fmt.Errorf("%w: calls to agent %s could not be sent: %v", ErrAgentLost, l.name, err))
		f.mu.Unlock()
	}
}

// publishLocked sends the pending messages, unless the link is gone, and
// returns the calls answered here and the first error of a publish;
// under sendMu.
func (l *agentLink) publishLocked() (map[*remoteConn][]wire.Response, error) {
	l.mu.Lock()
	msgs := l.ready
	if len(l.batch) > 0 {
		msgs = append(msgs, l.batch)
	}
	l.ready, l.batch = nil, nil
	rejects := l.rejects
	l.rejects = nil
	l.mu.Unlock()
	h := l.h
	if l.gone.Load() {
		// Lost: its calls are retried elsewhere; sent now they might run
		// twice.
		return rejects, nil
	}
	for _, b := range msgs {
		b = remote.AppendBatchTail(b, h.id, l.session, l.epoch, h.cfg.Heartbeat, h.f.cfg.MaxMessageSize, false)
		if err := h.pub.Publish(l.subject, h.subj.Host(h.id), b); err != nil {
			// What follows would reach the agent without these.
			return rejects, err
		}
	}
	return rejects, nil
}

// send is the agent's sender goroutine: it publishes what callers handed
// over with Wake, after letting them add more.
func (l *agentLink) send() {
	defer l.h.f.wg.Done()
	for {
		select {
		case <-l.wake:
			runtime.Gosched() // let the woken callers call again: one message for all
			l.flush()
		case <-l.done:
			// Tell the agent, should it come back, that its calls of this
			// session are retried elsewhere.
			l.sendMu.Lock()
			_ = l.h.nc.Publish(l.subject, remote.AppendBatchTail(nil, l.h.id, l.session, l.epoch, l.h.cfg.Heartbeat, 0, true))
			l.sendMu.Unlock()
			return
		case <-l.h.f.killed:
			return
		}
	}
}

// response turns a Reply into the farm's Response.
func (l *agentLink) response(r *remote.Reply) wire.Response {
	resp := wire.Response{ID: r.ID, Result: r.Result, RawResult: r.RawResult, Failure: r.Error, PID: int(r.PID)}
	if f := r.Failure; f != nil && r.Error == nil {
		w := l.workers[r.Slot]
		switch f.Kind {
		case remotepb.Failure_WORKER_EXIT:
			resp.Err = &WorkerExitError{Slot: w.slot.index, Agent: l.name, PID: int(r.PID),
				Status: ExitStatus{Code: int(f.ExitCode), Signal: f.Signal}}
			resp.Crash = true
		case remotepb.Failure_EXPIRED:
			resp.Err = errExpired
		case remotepb.Failure_TIMEOUT:
			resp.Err = agentTimeout(time.Duration(f.TimeoutNanos))
		default:
			why := "refused the call"
			switch f.Kind {
			case remotepb.Failure_OTHER:
				why = "could not run the call"
			case remotepb.Failure_CANCELED:
				why = "cancelled the call"
			}
			resp.Err = &WorkerExitError{Slot: w.slot.index, Agent: l.name, PID: int(r.PID), Status: ExitStatus{Code: -1},
				Cause: fmt.Errorf("%w: the agent %s: %s", ErrAgentLost, why, f.Message)}
		}
	}
	return resp
}

// agentTimeout is the failure of an attempt that the agent's own Timeout
// ended: the host reports it as a *TimeoutError of that timeout.
type agentTimeout time.Duration

func (t agentTimeout) Error() string {
	return fmt.Sprintf("the agent's own timeout of %v ended the attempt", time.Duration(t))
}

func (t agentTimeout) Is(target error) bool { return target == ErrTimeout }

// errExpired marks a call an agent dropped when its budget ran out: the
// host reports it as its own timeout.
var errExpired = fmt.Errorf("%w: the budget ran out at the agent", ErrTimeout)

func (c *remoteConn) closed() bool { return c.shut.Load() }

// Done is closed when the agent's session ends or Stop.
func (c *remoteConn) Done() <-chan struct{} { return c.done }

// Err says why the connection ended, nil while it is open.
func (c *remoteConn) Err() error {
	if !c.closed() {
		return nil
	}
	<-c.done
	return c.err
}

// Exited is closed with Done: the agent's process is not the farm's.
func (c *remoteConn) Exited() <-chan struct{} { return c.done }

// ExitStatus of a remote worker says nothing of its process: -1.
func (c *remoteConn) ExitStatus() ExitStatus { <-c.done; return ExitStatus{Code: -1} }

// Stop ends the farm's use of the worker; its calls on the agent are
// cancelled by the farm (the answers of abandoned calls are ignored).
func (c *remoteConn) Stop(time.Duration) { c.end(host.ErrConnClosed) }

// end closes the connection with err.
func (c *remoteConn) end(err error) {
	c.once.Do(func() {
		c.err = err
		c.shut.Store(true)
		close(c.done)
	})
}

// PID is the agent's worker process id, on the agent's machine.
func (c *remoteConn) PID() int { return int(c.pid.Load()) }

// SharedMemory is 0: the host shares no memory with a remote worker.
func (c *remoteConn) SharedMemory() int64 { return 0 }

// Info describes a remote worker: what its agent announced.
func (c *remoteConn) Info() *host.Info { return c.info }
