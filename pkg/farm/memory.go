package farm

import (
	"errors"
	"fmt"
	"time"
)

// DefaultMemoryCheckInterval is the period of the RSS samples when
// Config.MemoryCheckInterval is zero.
const DefaultMemoryCheckInterval = time.Second

// minMemoryCheckInterval is the smallest Config.MemoryCheckInterval.
const minMemoryCheckInterval = time.Millisecond

// ErrMemoryLimit is matched, through a [WorkerExitError]'s Cause, by the
// failure of a call whose worker was killed for going over
// Config.MaxWorkerMemoryHard.
var ErrMemoryLimit = errors.New("worker over its memory limit")

// MemoryError says that a worker was killed for its resident memory. It is
// the Cause of the [WorkerExitError] its calls fail with, and matches
// ErrMemoryLimit.
type MemoryError struct {
	// PID is the worker's process id.
	PID int
	// RSS is the resident memory measured, in bytes, as the limit counts
	// it: less the pages of the worker's shared-memory arena, up to the
	// arena's size (see Config.MaxWorkerMemory).
	RSS int64
	// Limit is Config.MaxWorkerMemoryHard.
	Limit int64
}

// Error returns "pid 123: resident memory 300000000 bytes over
// MaxWorkerMemoryHard 200000000".
func (e *MemoryError) Error() string {
	return fmt.Sprintf("pid %d: resident memory %d bytes over MaxWorkerMemoryHard %d", e.PID, e.RSS, e.Limit)
}

// Is matches ErrMemoryLimit.
func (e *MemoryError) Is(target error) bool { return target == ErrMemoryLimit }

// memWatch samples the resident memory of a farm's workers; a farm has one
// only when a memory limit is set.
type memWatch struct {
	soft, hard int64
	every      time.Duration
	// gap is the least time, by the farm's clock, between two samples of
	// a worker asked for by its answers.
	gap int64
	// kick wakes the sampler to sample the workers in due.
	kick chan struct{}
	// due lists the workers whose answers asked for a sample; guarded by
	// the farm's lock.
	due []*worker
	// warnedFresh: a worker over the soft limit before its first answer
	// was reported (once: the limit is below what a worker needs).
	warnedFresh bool
}

// memState is a worker's part of the memory watch, guarded by the farm's
// lock.
type memState struct {
	rss  int64 // bytes, at the last sample; 0 before the first
	at   int64 // the farm's clock at the last sample; 0 before the first
	due  bool  // in memWatch.due
	over bool  // over MaxWorkerMemory: replaced once its standby is online
	// killed is set when the worker was killed over MaxWorkerMemoryHard.
	killed *MemoryError
	// kill SIGKILLs the process; set when the process starts.
	kill func()
}

// memSample is one worker's sample, taken without the farm's lock.
type memSample struct {
	w     *worker
	pid   int
	arena int64 // the size of its connection's arena, 0 for none
	rss   int64
	err   error
}

// newMemWatch returns the memory watch cfg asks for, or nil when it sets
// no memory limit.
func newMemWatch(cfg Config) *memWatch {
	if cfg.MaxWorkerMemory == 0 && cfg.MaxWorkerMemoryHard == 0 {
		return nil
	}
	return &memWatch{
		soft:  cfg.MaxWorkerMemory,
		hard:  cfg.MaxWorkerMemoryHard,
		every: cfg.MemoryCheckInterval,
		gap:   int64(cfg.MemoryCheckInterval / 10),
		kick:  make(chan struct{}, 1),
	}
}

// memAnsweredLocked asks for a sample of w, which just answered calls,
// unless its last sample is less than a tenth of MemoryCheckInterval old.
// It only marks w and wakes the sampler: no /proc read on the caller's
// goroutine.
func (f *Farm) memAnsweredLocked(w *worker, now int64) {
	m := f.mem
	if w.mem.due || (w.mem.at != 0 && now-w.mem.at < m.gap) {
		return
	}
	w.mem.due = true
	m.due = append(m.due, w)
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// sampleMemory is the farm's sampler goroutine: it reads every live
// worker's RSS each MemoryCheckInterval, and the workers that asked for a
// sample after their answers when woken; it acts on the limits. It reads
// /proc without the farm's lock and returns when Kill starts.
func (f *Farm) sampleMemory() {
	defer f.wg.Done()
	m := f.mem
	tick := time.NewTicker(m.every)
	defer tick.Stop()
	var batch []memSample
	var kills []func()
	for {
		all := false
		select {
		case <-f.killed:
			return
		case <-tick.C:
			all = true
		case <-m.kick:
		}
		f.mu.Lock()
		batch = f.memBatchLocked(batch[:0], all)
		f.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		for i := range batch {
			s := &batch[i]
			s.rss, s.err = readRSS(s.pid)
			if s.err == nil && s.arena > 0 && m.over(s.rss) {
				// The arena's pages are the host's: they do not count
				// against the worker, up to the arena's size (a worker's
				// own shared memory does). Read only when it matters:
				// status costs more than statm and allocates.
				if shm, err := readShmem(s.pid); err == nil {
					s.rss = max(s.rss-min(shm, s.arena), 0)
				}
			}
		}
		now := f.clock()
		replaced := false
		f.mu.Lock()
		for _, s := range batch {
			kill, r := f.memSampledLocked(s, now)
			if kill != nil {
				kills = append(kills, kill)
			}
			replaced = replaced || r
		}
		var fl flushList
		if replaced {
			f.dispatchLocked(&fl) // a standby took over
		}
		f.mu.Unlock()
		fl.flush()
		for i, kill := range kills {
			kill() // SIGKILL; the worker's watcher handles its death
			kills[i] = nil
		}
		kills = kills[:0]
		clear(batch)
	}
}

// over reports whether rss is over a limit.
func (m *memWatch) over(rss int64) bool {
	return (m.soft > 0 && rss > m.soft) || (m.hard > 0 && rss > m.hard)
}

// memBatchLocked appends to batch the workers to sample: every live worker
// when all is set, else those in due; it empties due.
func (f *Farm) memBatchLocked(batch []memSample, all bool) []memSample {
	m := f.mem
	for _, w := range m.due {
		w.mem.due = false
		if !all && memSampleable(w) {
			batch = append(batch, memSample{w: w, pid: w.pid, arena: w.conn.SharedMemory()})
		}
	}
	clear(m.due)
	m.due = m.due[:0]
	if all && f.state != farmKilled {
		for _, s := range f.slots {
			for _, w := range s.workers() {
				if memSampleable(w) {
					batch = append(batch, memSample{w: w, pid: w.pid, arena: w.conn.SharedMemory()})
				}
			}
		}
	}
	return batch
}

// memSampleable reports whether w's memory is worth reading: a process
// that is up and not being stopped.
func memSampleable(w *worker) bool {
	return w.pid > 0 && !w.slot.remote && w.mem.killed == nil && (w.state == workerOnline || w.state == workerRetiring)
}

// memSampledLocked records a sample of a worker and applies the limits. It
// returns the function that kills the worker when it is over
// MaxWorkerMemoryHard, to be called once the lock is released, and whether
// its standby took over from it.
func (f *Farm) memSampledLocked(s memSample, now int64) (kill func(), replaced bool) {
	w, m := s.w, f.mem
	if s.err != nil || !memSampleable(w) || f.state == farmKilled {
		return nil, false // it ended meanwhile (or /proc is not readable)
	}
	select {
	case <-w.conn.Exited():
		return nil, false // its pid may name another process by now
	default:
	}
	w.mem.rss, w.mem.at = s.rss, now
	if m.hard > 0 && s.rss > m.hard && w.mem.kill != nil {
		w.mem.killed = &MemoryError{PID: w.pid, RSS: s.rss, Limit: m.hard}
		f.log.Warn("worker over MaxWorkerMemoryHard; killing it", "slot", w.slot.index, "pid", w.pid, "rss", s.rss, "limit", m.hard)
		f.dyingLocked(w)
		f.emitLocked(Event{Type: EventMemoryKill, worker: w})
		return w.mem.kill, false
	}
	sl := w.slot
	if m.soft > 0 && s.rss > m.soft && !w.mem.over && w.state == workerOnline && sl.cur == w {
		w.mem.over = true
		f.log.Debug("worker over MaxWorkerMemory; replacing it", "slot", sl.index, "pid", w.pid, "rss", s.rss, "limit", m.soft)
		if w.answered == 0 && !m.warnedFresh {
			m.warnedFresh = true
			f.log.Warn("a worker is over MaxWorkerMemory before its first answer: the limit is below what a worker needs, and workers are replaced at every check",
				"slot", sl.index, "pid", w.pid, "rss", s.rss, "limit", m.soft)
		}
		if sl.standby != nil {
			f.memReplaceLocked(w)
			return nil, true
		}
		// It keeps serving until its replacement is online (see
		// memStandbyOnlineLocked).
		sl.wantStandby = true
		sl.wakeup()
	}
	return nil, false
}

// memStandbyOnlineLocked runs when a standby of slot s came online: it
// replaces the slot's worker if that one is over MaxWorkerMemory.
func (f *Farm) memStandbyOnlineLocked(s *slot) {
	if f.mem == nil {
		return
	}
	if w := s.cur; w != nil && w.mem.over && w.state == workerOnline && s.standby != nil {
		f.memReplaceLocked(w)
	}
}

// memReplaceLocked retires w, which is over MaxWorkerMemory: its standby
// takes over, and w finishes its calls and stops.
func (f *Farm) memReplaceLocked(w *worker) {
	f.st.memoryReplaced++
	f.emitLocked(Event{Type: EventMemory, worker: w})
	f.retireLocked(w)
}
