package farm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Reload replaces every worker by one of the executable at path, slot by
// slot, without losing, refusing or failing a call: for each slot a new
// worker is started and checked like any worker (handshake, protocol
// version, Describe, the checksum when one is set, the serializer, and
// every method the farm's current workers have), runs Config.Init, and
// comes online; only then does the slot's old worker retire: it takes no
// new call, finishes those it runs, and stops, as at its TTL. Calls keep
// flowing meanwhile, and a Broadcast during a Reload reaches each slot
// once. A relative path is resolved as New resolves Config.Path, once.
//
// Reload returns nil once every slot runs the new binary; the old workers
// may still be finishing their calls. From then on every new worker
// (TTL, idle, crash, memory limit) runs the new binary.
//
// If a new worker fails to start, lacks a method (ErrMissingMethod), or
// ctx ends, Reload stops there and returns a *ReloadError saying at which
// slot: that slot and the later ones keep their old workers, untouched,
// and the farm's binary stays the old one. The slots before it run the new
// binary already (their old workers are gone). A binary that is not a
// worker or lacks a method fails at the first slot, before any worker is
// replaced; a later slot fails only for a cause of its own (its Init, the
// machine's limits), and calling Reload again with the same path
// completes the reload.
//
// When a checksum is set (Config.Checksum, or the last ReloadChecksum's),
// the new file must match it: Reload then accepts only the same build at
// another path. Give a new build with its checksum to [Farm.ReloadChecksum].
//
// Reloads run one at a time: a Reload waits, bounded by ctx, for the one
// running to end. ctx bounds the whole reload, starts and Inits included.
// On a killed farm Reload returns ErrFarmKilled; once Shutdown began,
// ErrShutdown.
func (f *Farm) Reload(ctx context.Context, path string) error {
	if !f.made() {
		return ErrNotStarted
	}
	f.mu.Lock()
	sum := f.bin.sum
	f.mu.Unlock()
	return f.reload(ctx, path, sum)
}

// ReloadChecksum is [Farm.Reload] of a binary that must match the SHA-256
// sum, which then replaces Config.Checksum for every later start; a nil
// sum reloads with no check, and none afterwards. A sum that is neither
// nil nor 32 bytes is an error matching ErrInvalidConfig.
func (f *Farm) ReloadChecksum(ctx context.Context, path string, sum []byte) error {
	if !f.made() {
		return ErrNotStarted
	}
	if sum != nil && len(sum) != 32 {
		return fmt.Errorf("%w: ReloadChecksum sum = %d bytes: a SHA-256 checksum has 32 bytes", ErrInvalidConfig, len(sum))
	}
	return f.reload(ctx, path, slices.Clone(sum))
}

// ReloadError is the failure of a [Farm.Reload]: the new worker of Slot
// did not come online. Slot and the later slots keep their old workers;
// the slots before it run the new binary.
type ReloadError struct {
	// Path is the new binary, resolved.
	Path string
	// Slot is the slot whose new worker failed; 0 when no worker was
	// replaced.
	Slot int
	// Err is the cause: a *StartError (which unwraps to ErrNotWorker,
	// ErrMissingMethod, ErrChecksumMismatch, the Init's *RemoteError...),
	// ctx's error, ErrFarmKilled.
	Err error
}

// Error returns "reload /path: slot 0: <cause>; no worker was replaced".
func (e *ReloadError) Error() string {
	if e.Slot == 0 {
		return fmt.Sprintf("reload %s: slot 0: %v; no worker was replaced", e.Path, e.Err)
	}
	return fmt.Sprintf("reload %s: slot %d: %v; slots 0 to %d run the new binary, the others the old one",
		e.Path, e.Slot, e.Err, e.Slot-1)
}

// Unwrap returns the cause.
func (e *ReloadError) Unwrap() error { return e.Err }

// reload replaces every slot's worker by one of path, which must match sum
// when it is not nil.
func (f *Farm) reload(ctx context.Context, path string, sum []byte) error {
	if path == "" {
		return fmt.Errorf("%w: Reload path = \"\": the worker executable is required", ErrInvalidConfig)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case f.reloading <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-f.killed:
		return ErrFarmKilled
	}
	defer func() { <-f.reloading }()
	abs, _ := resolvePath(path, f.cfg.Dir)
	bin := binary{path: abs, sum: sum}

	f.mu.Lock()
	switch f.state {
	case farmKilled:
		f.mu.Unlock()
		return ErrFarmKilled
	case farmDraining:
		f.mu.Unlock()
		return ErrShutdown
	}
	f.wg.Add(1) // Kill waits for the reload's starts
	need := f.methodsLocked()
	f.mu.Unlock()
	defer f.wg.Done()
	// When ctx ends, the process being started is killed.
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.reloadKill != nil {
			f.reloadKill()
		}
	})
	defer stop()

	f.mu.Lock()
	local := f.slots[:f.cfg.Workers:f.cfg.Workers] // an agent's workers reload with their agent
	f.mu.Unlock()
	if len(local) == 0 {
		return &ReloadError{Path: abs, Err: errors.New("the farm has no local workers to reload (an agent's workers reload with their agent)")}
	}
	for _, s := range local {
		if err := f.reloadSlot(ctx, s, bin, need); err != nil {
			return &ReloadError{Path: abs, Slot: s.index, Err: err}
		}
	}
	f.mu.Lock()
	f.bin = bin
	f.mu.Unlock()
	f.log.Debug("farm reloaded", "path", abs)
	return nil
}

// methodsLocked returns the names of the methods of the farm's current
// workers, sorted.
func (f *Farm) methodsLocked() []string {
	all := map[string]bool{}
	for _, s := range f.slots {
		if w := s.cur; w != nil && w.conn.Info() != nil {
			for m := range w.conn.Info().Methods {
				all[m] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(all))
}

// reloadSlot starts a worker of bin for s and, once it is ready, makes it
// the slot's worker and retires the old one (and a standby of the old
// binary). On error the slot is left as it was.
func (f *Farm) reloadSlot(ctx context.Context, s *slot, bin binary, need []string) error {
	f.mu.Lock()
	if s.parked {
		// Scaled down: its next start runs bin.
		s.bin = bin
		s.gen++
		f.mu.Unlock()
		return nil
	}
	f.mu.Unlock()
	w, err := s.spawn(ctx, bin, need, &f.reloadKill)
	f.mu.Lock()
	if f.state == farmKilled {
		if err == nil {
			f.mu.Unlock()
			f.discard(w)
			return ErrFarmKilled
		}
		f.startKilledLocked(w)
		f.mu.Unlock()
		return ErrFarmKilled
	}
	if err != nil {
		if ctx.Err() != nil {
			// The start was cut short: what the process said then is
			// not the cause.
			err = fmt.Errorf("%w: the reload's context ended while the new worker started", ctx.Err())
		}
		serr := &StartError{Slot: s.index, Err: err}
		f.st.startFailures++
		f.emitLocked(Event{Type: EventError, Err: serr, Slot: s.index, WorkerID: w.id, PID: w.pid})
		f.log.Warn("reload: worker failed to start; the slot keeps its worker", "slot", s.index, "path", bin.path, "error", err)
		f.mu.Unlock()
		return serr
	}
	// Later starts of the slot run bin; one running now, of the old
	// binary, is discarded when it ends (start compares gen).
	s.bin = bin
	s.gen++
	if sb := s.standby; sb != nil {
		s.standby = nil
		s.old = append(s.old, sb)
		f.retireLocked(sb)
	}
	s.wantStandby = false
	if old := s.cur; old != nil {
		// The new worker takes the slot first, so that the slot's
		// queued sticky calls stay with it.
		s.cur = w
		s.old = append(s.old, old)
		f.retireLocked(old)
	}
	s.cur = w
	var fl flushList
	f.onlineLocked(w, &fl)
	f.emitLocked(Event{Type: EventReload, worker: w})
	f.mu.Unlock()
	fl.flush()
	return nil
}
