package farm

import (
	"math"
	"math/bits"
	"time"
)

// counters are the farm's running totals, guarded by its lock.
type counters struct {
	submitted, succeeded, failed, retried, timedOut, refused uint64
	started, startFailures, exited, crashed, recycled, hung  uint64
	scaledDown, memoryReplaced, memoryKilled                 uint64
	queueWait, runTime                                       histogram
}

// histogram counts durations in log-linear buckets of nanoseconds: exact
// below 8 ns, then 8 buckets per power of two, each 1/8 of its octave's
// lower bound wide, over the whole range of time.Duration. Adding a sample
// is a few instructions and never allocates; a percentile is read at its
// bucket's middle, within 6.25 % of the true value (and never above the
// maximum, which is exact).
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

const (
	histSubBits = 3
	histSub     = 1 << histSubBits // buckets per power of two
	// Values below histSub have a bucket each; then one group of histSub
	// buckets for each bit length from histSubBits+1 to 63: every
	// non-negative int64.
	histBuckets = (64 - histSubBits) * histSub
)

func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// bucketOf returns the bucket of v ns: v itself below histSub, else the
// group of its bit length and the histSubBits bits after its leading one.
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1 // position of the leading one, ≥ histSubBits
	sub := int(v>>(e-histSubBits)) & (histSub - 1)
	return (e-histSubBits+1)<<histSubBits | sub
}

// bucketBounds returns the smallest value of bucket i and its width.
func bucketBounds(i int) (low, width uint64) {
	if i < histSub {
		return uint64(i), 1
	}
	e := i>>histSubBits + histSubBits - 1
	sub := uint64(i & (histSub - 1))
	return (histSub + sub) << (e - histSubBits), 1 << (e - histSubBits)
}

// Percentiles summarises a duration distribution. Percentiles are within
// 6.25 % of the exact value; Max and Mean are exact.
type Percentiles struct {
	Count         uint64
	P50, P90, P99 time.Duration
	Max, Mean     time.Duration
}

func (h *histogram) summary() Percentiles {
	p := Percentiles{Count: h.n, Max: h.max}
	if h.n == 0 {
		return p
	}
	p.Mean = h.sum / time.Duration(h.n)
	// Nearest rank: the smallest sample with at least q·n samples at or
	// below it.
	rank := func(q float64) uint64 { return max(uint64(math.Ceil(q*float64(h.n))), 1) }
	targets := [3]uint64{rank(0.50), rank(0.90), rank(0.99)}
	out := [3]*time.Duration{&p.P50, &p.P90, &p.P99}
	var seen uint64
	j := 0
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		for ; j < len(targets) && seen >= targets[j]; j++ {
			low, width := bucketBounds(i)
			*out[j] = min(time.Duration(low+width/2), h.max)
		}
		if j == len(targets) {
			break
		}
	}
	return p
}

// WorkerStats describes one live worker.
type WorkerStats struct {
	Slot     int
	WorkerID int
	PID      int
	// Agent names the agent of a remote worker; empty for a local one.
	Agent string
	// State is "online" (takes calls), "standby" (started early to replace
	// the slot's worker at its TTL), "retiring" (recycled: finishes its
	// calls, takes no more) or "stopping" (asked to exit). A slot whose
	// worker is starting has no entry.
	State string
	// InFlight counts the calls the worker runs now, Abandoned those of
	// them whose caller gave up (timeout, cancel) but that still run.
	InFlight, Abandoned int
	// Calls is the number of calls dispatched to it, Answered the number
	// it answered (calls done).
	Calls, Answered int
	// Age is the time since it came online.
	Age time.Duration
	// Restarts counts the workers of its slot that have ended (crashed or
	// recycled) since New.
	Restarts int
	// RSS is its resident memory in bytes at the last sample, taken only
	// when a memory limit is set (Config.MaxWorkerMemory,
	// MaxWorkerMemoryHard); 0 when unknown. It is the RSS of
	// /proc/<pid>/statm, less the pages of the worker's shared-memory
	// arena (at most its size) when that RSS was over a limit: what the
	// limits compare.
	RSS int64
}

// Stats is a snapshot of a farm, from [Farm.Stats].
type Stats struct {
	// Workers lists the live workers by slot, a retiring one before its
	// replacement.
	Workers []WorkerStats
	// Queued counts the calls waiting for a worker (or a retry backoff),
	// InFlight those running.
	Queued, InFlight int
	// Totals since New: calls accepted, answered with success, answered
	// with an error (any error, after retries), attempts retried, attempts
	// timed out, calls refused by MaxConcurrentCalls.
	Submitted, Succeeded, Failed, Retried, TimedOut, Refused uint64
	// Worker processes started, failed to start, exited (for any reason),
	// exited unexpectedly (crash, exit, signal, MaxWorkerMemoryHard), retired to be replaced
	// (TTL, idle, hung, MaxWorkerMemory; the stops of Kill and Shutdown are not counted),
	// and retired because they ignored a cancellation.
	WorkersStarted, StartFailures, WorkersExited, WorkersCrashed, WorkersRecycled, WorkersHung uint64
	// WorkersScaledDown counts the workers above Config.MinWorkers stopped
	// after they idled Config.ScaleDownAfter.
	WorkersScaledDown uint64
	// WorkersOverMemory counts the workers replaced over MaxWorkerMemory
	// (also in WorkersRecycled), WorkersKilledForMemory those killed over
	// MaxWorkerMemoryHard (also in WorkersCrashed).
	WorkersOverMemory, WorkersKilledForMemory uint64
	// QueueWait is the time each attempt waited for a worker: from
	// submission, or for a retry from the end of the failed attempt and
	// its backoff. RunTime is the time from dispatch to answer of each
	// answered attempt.
	QueueWait, RunTime Percentiles
}

var workerStates = [...]string{workerOnline: "online", workerRetiring: "retiring", workerStopping: "stopping", workerDead: "dead"}

// Stats returns a snapshot of the farm's workers, queue and totals. It
// does not block beyond a short lock; safe to call at any time, from any
// goroutine (an OnEvent listener too), also after Kill.
func (f *Farm) Stats() Stats {
	if !f.made() {
		return Stats{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	st := Stats{
		Queued:            f.queued,
		InFlight:          f.active - f.queued,
		Submitted:         f.st.submitted,
		Succeeded:         f.st.succeeded,
		Failed:            f.st.failed,
		Retried:           f.st.retried,
		TimedOut:          f.st.timedOut,
		Refused:           f.st.refused,
		WorkersStarted:    f.st.started,
		StartFailures:     f.st.startFailures,
		WorkersExited:     f.st.exited,
		WorkersCrashed:    f.st.crashed,
		WorkersRecycled:   f.st.recycled,
		WorkersScaledDown: f.st.scaledDown,

		WorkersOverMemory:      f.st.memoryReplaced,
		WorkersKilledForMemory: f.st.memoryKilled,
		WorkersHung:            f.st.hung,
		QueueWait:              f.st.queueWait.summary(),
		RunTime:                f.st.runTime.summary(),
	}
	for _, s := range f.slots {
		for _, w := range s.workers() {
			state := workerStates[w.state]
			if w == s.standby {
				state = "standby"
			}
			st.Workers = append(st.Workers, WorkerStats{
				Slot: s.index, WorkerID: w.id, PID: w.pid, Agent: w.agent,
				State:    state,
				InFlight: w.pending, Abandoned: w.zombies,
				Calls: w.calls, Answered: w.answered,
				Age: now.Sub(w.started), Restarts: s.restarts,
				RSS: w.mem.rss,
			})
		}
	}
	return st
}
