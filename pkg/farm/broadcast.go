package farm

import (
	"context"
	"errors"
	"fmt"
)

// WorkerReply is one worker's answer to a broadcast.
type WorkerReply struct {
	// Slot is the worker's slot, PID the process that answered (0 if none did).
	Slot int
	PID  int
	// Agent names the agent of a remote worker; empty for a local one.
	Agent string
	// Result is the answer when Err is nil.
	Result Result
	// Err is the call's error on that worker.
	Err error
}

// Broadcast calls the default method on every worker slot. See
// [Farm.BroadcastMethod].
func (f *Farm) Broadcast(ctx context.Context, args ...any) ([]WorkerReply, error) {
	return f.BroadcastMethod(ctx, defaultMethod, args...)
}

// BroadcastMethod calls method once on every worker slot (for setup or a
// configuration reload) and waits for all of them; with MinWorkers below
// Workers, the slots without a worker (scaled down) are left out. It
// returns one reply per slot, in slot order, each attributed to the worker that answered; the
// error joins the failures, each naming its slot and pid, and is nil when
// every worker succeeded. A call whose worker dies is retried on that
// slot's replacement, as Config.MaxRetries says. A ctx that has ended
// already runs nothing: BroadcastMethod returns ctx's error and no
// replies.
func (f *Farm) BroadcastMethod(ctx context.Context, method string, args ...any) ([]WorkerReply, error) {
	if !f.made() {
		return nil, ErrNotStarted
	}
	if err := ctx.Err(); err != nil {
		return nil, err // as a call: nothing runs
	}
	enc, raw, _, err := f.encodeArgs(method, args, nil, nil, false)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	slots := make([]*slot, 0, len(f.slots))
	agents := make([]string, 0, len(f.slots))
	var remote []*worker // by slot index: the agent's worker that must answer
	for _, s := range f.slots {
		if !s.parked && (!s.remote || s.cur.online()) {
			slots = append(slots, s)
			agents = append(agents, s.agent)
			if s.remote {
				if remote == nil {
					remote = make([]*worker, len(f.slots))
				}
				remote[s.index] = s.cur
			}
		}
	}
	f.mu.Unlock()
	futures := make([]*Future, len(slots))
	for i, s := range slots {
		var w *worker
		if remote != nil {
			w = remote[s.index]
		}
		futures[i] = f.submitEncoded(ctx, method, s, w, enc, raw)
	}
	replies := make([]WorkerReply, len(futures))
	var errs []error
	for i, fu := range futures {
		r, err := fu.Result()
		slot := slots[i].index
		replies[i] = WorkerReply{Slot: slot, PID: fu.pid, Agent: agents[i], Result: r, Err: err}
		if err != nil && agents[i] != "" {
			errs = append(errs, fmt.Errorf("slot %d (agent %s, pid %d): %w", slot, agents[i], fu.pid, err))
		} else if err != nil {
			errs = append(errs, fmt.Errorf("slot %d (pid %d): %w", slot, fu.pid, err))
		}
	}
	return replies, errors.Join(errs...)
}
