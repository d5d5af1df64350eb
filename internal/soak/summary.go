package soak

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// summary prints a table per fate, wall time, calls/s, the farm's stats,
// the leak checks and the violations.
func (r *run) summary() {
	out, rep, cfg := r.out, r.rep, r.cfg
	s := rep.Stats
	fmt.Fprintf(out, "%-10s %8s %8s %11s %10s %5s\n", "fate", "calls", "right", "collateral", "violation", "lost")
	tot := [numOutcomes]int{}
	for _, fate := range Fates {
		c := rep.Counts[fate]
		sum := 0
		for k, v := range c {
			sum += v
			tot[k] += v
		}
		fmt.Fprintf(out, "%-10s %8d %8d %11d %10d %5d\n", fate, sum, c[outRight], c[outCollateral], c[outWrong], c[outLost])
	}
	fmt.Fprintf(out, "%-10s %8d %8d %11d %10d %5d\n", "total", cfg.Calls, tot[outRight], tot[outCollateral], tot[outWrong], tot[outLost])
	fmt.Fprintf(out, "answers: %s\n", answerKinds(rep.Kinds))
	fmt.Fprintf(out, "wall %v, %.0f calls/s; farm.New %v, Kill %v\n",
		rep.Wall.Round(time.Millisecond), float64(cfg.Calls)/rep.Wall.Seconds(), rep.Start.Round(time.Millisecond), rep.KillTime.Round(time.Millisecond))
	fmt.Fprintf(out, "calls: submitted %d, succeeded %d, failed %d, retried %d, timed out %d\n",
		s.Submitted, s.Succeeded, s.Failed, s.Retried, s.TimedOut)
	fmt.Fprintf(out, "workers: started %d, crashed %d, recycled %d (hung %d), exited %d, start failures %d\n",
		s.WorkersStarted, s.WorkersCrashed, s.WorkersRecycled, s.WorkersHung, s.WorkersExited, s.StartFailures)
	fmt.Fprintf(out, "queue wait p50 %v p99 %v max %v; run time p50 %v p99 %v max %v\n",
		s.QueueWait.P50, s.QueueWait.P99, s.QueueWait.Max.Round(time.Millisecond), s.RunTime.P50, s.RunTime.P99, s.RunTime.Max.Round(time.Millisecond))
	r.evs.mu.Lock()
	types := eventCounts(r.evs.types)
	r.evs.mu.Unlock()
	fmt.Fprintf(out, "events: %s\n", types)
	if cfg.ReloadAt > 0 {
		fmt.Fprintf(out, "reload at call %d: %d workers reloaded\n", cfg.ReloadAt, rep.Reloads)
	}
	if rep.Doubles != nil {
		fmt.Fprintf(out, "runs: %d runs of %d attempts; calls of a fate that runs once run twice or more: %s\n",
			rep.Runs, rep.Attempts, doubles(rep.Doubles))
		for _, d := range rep.DoubleExamples {
			fmt.Fprintf(out, "  e.g. %s\n", d)
		}
	}
	l, base := r.leaks, r.base
	if cfg.Agents > 0 {
		fmt.Fprintf(out, "agents: %d started; fates %s; lost after kill or freeze in %v on average, %v at most\n",
			rep.AgentsStarted, fateCounts(rep.AgentFates), rep.LossMean.Round(time.Millisecond), rep.LossMax.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "leaks: goroutines %d -> %d, fds %d -> %d, worker processes alive %d of %d, socket dirs %d, processes of the binaries %d\n",
		base.goroutines, l.goroutines, base.fds, l.fds, l.alive, l.pids, l.dirs, l.procs)
	if rep.OK() {
		fmt.Fprintln(out, "PASS")
		return
	}
	fmt.Fprintf(out, "FAIL: %d violations\n", len(rep.Violations))
	for i, v := range rep.Violations {
		if i == 30 {
			fmt.Fprintf(out, "  ... and %d more\n", len(rep.Violations)-i)
			break
		}
		fmt.Fprintf(out, "  %s\n", v)
	}
}

// eventCounts lists the events of each type, by name.
func eventCounts(m map[farm.EventType]int) string {
	var parts []string
	for t, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", t, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// doubles lists the calls run more than once, by cause.
func doubles(m map[string]int) string {
	n := 0
	var parts []string
	for _, c := range []string{causeAgent, causeWorker, causeTimeout, causeOther} {
		if m[c] > 0 {
			n += m[c]
			parts = append(parts, fmt.Sprintf("%d after an attempt whose %s", m[c], strings.Replace(c, "timed out", "worker timed out", 1)))
		}
	}
	if n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

// fateCounts lists the agent fates applied, in AgentFates order.
func fateCounts(m map[string]int) string {
	var parts []string
	for _, k := range append(AgentFates, MoreAgentFates...) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// answerKinds lists the answers by kind, the most frequent first.
func answerKinds(m map[string]int) string {
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if m[kinds[i]] != m[kinds[j]] {
			return m[kinds[i]] > m[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, "; ")
}
