package soak

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// The soak counts how many times each call ran: the chaos worker appends a
// line per run to a journal ($CHAOS_JOURNAL), which the soak reads once no
// worker is left, and the farm's events give each call's attempts (the
// soak's calls enter the farm in index order, so call i has id i+1).
//
// A call runs at most once per attempt: more runs than attempts is a call
// doubled, a violation. Every attempt that the worker answered (a result,
// or a *RemoteError of the function: its error, its panic, its context's
// end) ran, so fewer runs is a violation too. The other failed attempts
// may or may not have run: their worker died, their agent was lost, they
// timed out. So a call of a fate that runs once (ok, grow, permanent,
// cancel) may run again after such an attempt, and legitimately run
// twice: those calls are counted, by the cause of that attempt, in
// Report.Doubles.

// Causes of an attempt whose outcome the host does not know, in Report.Doubles.
const (
	causeAgent   = "agent lost"  // its agent was lost, or left, while it ran
	causeWorker  = "worker died" // its worker died (a local one, or an agent's)
	causeTimeout = "timed out"   // it ran past the timeout, on a worker that lives on
	causeOther   = "other"
)

// journalPath is the run's journal.
func (r *run) journalPath() string { return filepath.Join(r.tmp, "journal") }

// runOnce reports whether a call of fate runs once when nothing fails
// beside it.
func runOnce(fate string) bool {
	return fate == "ok" || fate == "grow" || fate == "permanent" || fate == "cancel"
}

// waitEntered waits until n calls have entered the farm, or done is
// closed (the call was refused): a blocking call enters on the goroutine
// that makes it, and the next call must not enter before it.
func waitEntered(f *farm.Farm, n uint64, done <-chan struct{}) {
	for spins := 0; f.Stats().Submitted < n; spins++ {
		select {
		case <-done:
			return
		default:
		}
		if spins < 50 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// readJournal counts the runs of each of calls calls.
func readJournal(path string, calls int) ([]int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	runs := make([]int, calls)
	sc := bufio.NewScanner(fh)
	for line := 1; sc.Scan(); line++ {
		idx, _, _ := strings.Cut(sc.Text(), " ")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= calls {
			return nil, fmt.Errorf("journal line %d: %q: not a call of the soak", line, sc.Text())
		}
		runs[i]++
	}
	return runs, sc.Err()
}

// checkRuns compares each call's runs with its attempts; after Kill, once
// no worker is left.
func (r *run) checkRuns() {
	rep := r.rep
	total := r.cfg.Calls + after
	if st := rep.Stats; st.Submitted != uint64(total) {
		rep.violate("runs not checked: %d calls entered the farm, not %d, so call ids and indexes differ", st.Submitted, total)
		return
	}
	runs, err := readJournal(r.journalPath(), total)
	if err != nil {
		rep.violate("runs not checked: %v", err)
		return
	}
	rep.Doubles = map[string]int{}
	evs := r.evs
	evs.mu.Lock()
	defer evs.mu.Unlock()
	for i, n := range runs {
		fate := "ok"
		if i < len(r.fates) {
			fate = r.fates[i]
		}
		c := evs.calls[uint64(i+1)]
		if c == nil {
			continue // no message event: reported by checkEvents
		}
		rep.Runs += n
		rep.Attempts += c.attempts
		ran := 0
		for _, a := range append(c.retried, c.last) {
			if answeredByWorker(a.err) {
				ran++
			}
		}
		switch {
		case n > c.attempts:
			rep.violate("call %d (%s) ran %d times in %d attempts (retries: %v; last: %v)", i, fate, n, c.attempts, errs(c.retried), c.last.err)
		case n < ran:
			rep.violate("call %d (%s) ran %d times, but its worker answered %d of its attempts", i, fate, n, ran)
		case n > 1 && runOnce(fate):
			why := r.cause(c)
			rep.Doubles[why]++
			if rep.Doubles[why] <= 2 {
				rep.DoubleExamples = append(rep.DoubleExamples, fmt.Sprintf("call %d (%s, %s): %d runs in %d attempts; retried after %v", i, fate, why, n, c.attempts, errs(c.retried)))
			}
		}
	}
}

// answeredByWorker reports whether an attempt that ended with err ran in
// the worker: it returned a result, an error, its context's end, or
// panicked.
func answeredByWorker(err error) bool {
	if err == nil {
		return true
	}
	var re *farm.RemoteError
	if !errors.As(err, &re) {
		return false
	}
	return re.Code == farm.CodeApplication || re.Code == farm.CodePanic || re.Code == farm.CodeCanceled
}

// cause says why a call may have run more than once: the first cause, in
// this order, of one of its attempts whose outcome the host did not learn.
func (r *run) cause(c *callLog) string {
	e := r.evs
	found := causeOther
	rank := map[string]int{causeAgent: 3, causeWorker: 2, causeTimeout: 1, causeOther: 0}
	// An agent lost that soon after an attempt failed on it, say of a
	// timeout, was lost while the attempt ran: frozen, for instance.
	window := farm.HeartbeatMisses*r.cfg.Heartbeat + time.Second
	for _, a := range append(c.retried, c.last) {
		if answeredByWorker(a.err) {
			continue
		}
		var we *farm.WorkerExitError
		why := causeOther
		w := e.workers[a.worker]
		switch {
		case errors.Is(a.err, farm.ErrAgentLost):
			why = causeAgent
		case errors.As(a.err, &we):
			why = causeWorker // a local worker, or an agent's, died
		case w != nil && w.agent != "" && !w.exit.IsZero() && w.exit.Before(r.killed) && w.exit.Sub(a.at) < window:
			why = causeAgent
		case errors.Is(a.err, farm.ErrTimeout):
			why = causeTimeout
		}
		if rank[why] > rank[found] {
			found = why
		}
	}
	return found
}

func errs(as []attempt) []error {
	var out []error
	for _, a := range as {
		out = append(out, a.err)
	}
	return out
}
