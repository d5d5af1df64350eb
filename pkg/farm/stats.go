package farm

import (
	"time"
)

// counters are the farm's running totals, guarded by its lock.
type counters struct {
	submitted, succeeded, failed, retried, timedOut, refused uint64
	started, startFailures, exited, crashed, recycled, hung  uint64
	queueWait, runTime                                       histogram
}

// histogram counts durations in buckets of 2^(i/4) microseconds: about 19 %
// wide, 0 to 2^32 µs (71 minutes).
type histogram struct {
	counts [129]uint64
	n      uint64
	max    time.Duration
}

func (h *histogram) add(d time.Duration) {
	us := d.Microseconds()
	i := 0
	if us > 0 {
		i = bucketOf(us)
	}
	h.counts[i]++
	h.n++
	h.max = max(h.max, d)
}

// bucketOf returns the bucket index of us > 0: 4·log2(us), rounded up.
func bucketOf(us int64) int {
	i := 0
	for b := int64(1); b < us && i < 128; i += 4 {
		b <<= 1
	}
	// refine within the octave
	for i > 0 && bucketUpper(i-1) >= us {
		i--
	}
	return min(i, 128)
}

// bucketUpper is the upper bound in µs of bucket i.
func bucketUpper(i int) int64 {
	octave, step := i/4, i%4
	base := float64(int64(1) << octave)
	return int64(base * [4]float64{1, 1.189, 1.414, 1.682}[step])
}

// Percentiles summarises a duration distribution.
type Percentiles struct {
	Count         uint64
	P50, P90, P99 time.Duration
	Max           time.Duration
}

func (h *histogram) summary() Percentiles {
	p := Percentiles{Count: h.n, Max: h.max}
	if h.n == 0 {
		return p
	}
	q := func(frac float64) time.Duration {
		rank := uint64(frac*float64(h.n) + 0.5)
		rank = max(rank, 1)
		var seen uint64
		for i, c := range h.counts {
			seen += c
			if seen >= rank {
				return min(time.Duration(bucketUpper(i))*time.Microsecond, h.max)
			}
		}
		return h.max
	}
	p.P50, p.P90, p.P99 = q(0.50), q(0.90), q(0.99)
	return p
}

// WorkerStats describes one worker.
type WorkerStats struct {
	Slot     int
	WorkerID int
	PID      int
	// State is "online", "retiring", "stopping" or "starting".
	State string
	// InFlight counts the calls the worker runs now, Abandoned those of
	// them whose caller gave up (timeout, cancel) but that still run.
	InFlight, Abandoned int
	// Calls is the number of calls dispatched to it, Answered of answers.
	Calls, Answered int
	// Age is the time since it came online.
	Age time.Duration
	// Restarts counts the workers its slot had before this one.
	Restarts int
}

// Stats is a snapshot of a farm, from [Farm.Stats].
type Stats struct {
	Workers []WorkerStats
	// Queued counts the calls waiting for a worker (or a retry backoff),
	// InFlight those running.
	Queued, InFlight int
	// Totals since New.
	Submitted, Succeeded, Failed, Retried, TimedOut, Refused uint64
	// Worker processes started, failed to start, exited, exited
	// unexpectedly, recycled (TTL, idle, hung), and recycled because they
	// ignored a cancellation.
	WorkersStarted, StartFailures, WorkersExited, WorkersCrashed, WorkersRecycled, WorkersHung uint64
	// QueueWait is the time from submission to dispatch of each attempt;
	// RunTime from dispatch to answer.
	QueueWait, RunTime Percentiles
}

// Stats returns a snapshot of the farm's workers, queue and totals. Safe
// to call at any time, also after Kill.
func (f *Farm) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	st := Stats{
		Queued:          f.queued,
		InFlight:        f.active - f.queued,
		Submitted:       f.st.submitted,
		Succeeded:       f.st.succeeded,
		Failed:          f.st.failed,
		Retried:         f.st.retried,
		TimedOut:        f.st.timedOut,
		Refused:         f.st.refused,
		WorkersStarted:  f.st.started,
		StartFailures:   f.st.startFailures,
		WorkersExited:   f.st.exited,
		WorkersCrashed:  f.st.crashed,
		WorkersRecycled: f.st.recycled,
		WorkersHung:     f.st.hung,
		QueueWait:       f.st.queueWait.summary(),
		RunTime:         f.st.runTime.summary(),
	}
	for _, s := range f.slots {
		for _, w := range s.workers() {
			st.Workers = append(st.Workers, WorkerStats{
				Slot: s.index, WorkerID: w.id, PID: w.pid,
				State:    [...]string{"online", "retiring", "stopping", "dead"}[w.state],
				InFlight: w.pending, Abandoned: w.zombies,
				Calls: w.calls, Answered: w.answered,
				Age: now.Sub(w.started), Restarts: s.restarts,
			})
		}
	}
	return st
}
