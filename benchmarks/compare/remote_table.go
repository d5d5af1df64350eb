package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// setRound returns v with v[round] = x, NaN in the rounds not set.
func setRound(v []float64, round int, x float64) []float64 {
	for len(v) <= round {
		v = append(v, math.NaN())
	}
	v[round] = x
	return v
}

// pairedMedian is the median over the rounds that have both a and b of
// f(a, b) (leaving out the NaNs f returns), and how many rounds have both.
func pairedMedian(a, b []float64, f func(a, b float64) float64) (float64, int) {
	var v []float64
	for i := range min(len(a), len(b)) {
		if !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			v = append(v, f(a[i], b[i]))
		}
	}
	if len(v) == 0 {
		return math.NaN(), 0
	}
	return present(v), len(v)
}

// present is the median of the values of v that are set.
func present(v []float64) float64 {
	var s []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	return median(s)
}

// printRemote prints, when workestrator-go-remote ran, its rows against
// workestrator-go-pinned's round by round (the two ran side by side in
// every round), the NATS hop's share of one call at a time, and the
// remote-scale rows by number of agents.
func printRemote(w io.Writer, perRound map[key][]float64, workloads []string) {
	var rows []string
	var wls []string
	for _, wl := range pinnedWorkloads {
		if !slices.Contains(workloads, wl) {
			continue
		}
		if wl == "work64" {
			for _, p := range workPoints {
				wls = append(wls, fmt.Sprintf("work64-%dk", p/1000))
			}
		} else {
			wls = append(wls, wl)
		}
	}
	for _, wl := range wls {
		for _, m := range []string{"calls_per_s", "p50_us", "p99_us", "host_cpu_us_per_call", "worker_cpu_us_per_call", "host_cores", "worker_cores", "other_cores"} {
			rem, loc := perRound[key{goRemoteSystem, wl, m}], perRound[key{goPinnedSystem, wl, m}]
			ratio, n := pairedMedian(rem, loc, func(a, b float64) float64 {
				if b == 0 {
					return math.NaN() // other_cores of a quiet round
				}
				return a / b
			})
			if n == 0 {
				continue
			}
			r := "–"
			if !math.IsNaN(ratio) && m != "other_cores" { // a diagnostic: no ratio
				r = fmt.Sprintf("%.2f×", ratio)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %d |", wl, m, format(present(loc)), format(present(rem)), r, n))
		}
	}
	if len(rows) > 0 {
		fmt.Fprintf(w, "\n### %s against %s (host on one CPU, workers on the other)\n\n", goRemoteSystem, goPinnedSystem)
		fmt.Fprintln(w, "| workload | metric | local (pinned) | remote | remote ÷ local, median of the rounds | rounds |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
		fmt.Fprintln(w, strings.Join(rows, "\n"))
		fmt.Fprintln(w, "\nCPU per call is the CPU time of a side divided by the calls: the host process (with the")
		fmt.Fprintln(w, "embedded NATS server for remote), and the worker side (the workers, and the agent for remote);")
		fmt.Fprintln(w, "cores is that CPU time divided by the run's wall time; other_cores is the rest of the machine's")
		fmt.Fprintln(w, "busy time (/proc/stat) over the run: other programs, interrupts.")
	}
	rem, loc := perRound[key{goRemoteSystem, "seq", "p50_us"}], perRound[key{goPinnedSystem, "seq", "p50_us"}]
	if over, n := pairedMedian(rem, loc, func(a, b float64) float64 { return a - b }); n > 0 {
		hop := perRound[key{goRemoteSystem, "seq", "nats_hop_p50_us"}]
		// The relay's share, round by round: remote − hop (measured in
		// alternating blocks of one run) − local (the same round).
		var diff []float64
		for i := range min(len(rem), len(hop)) {
			diff = setRound(diff, i, rem[i]-hop[i])
		}
		relay, _ := pairedMedian(diff, loc, func(a, b float64) float64 { return a - b })
		fmt.Fprintf(w, "\nOne call at a time: the remote path adds %s µs at p50 (median over %d rounds of remote − local);", format(over), n)
		fmt.Fprintf(w, " a bare NATS request and reply through an embedded server, echoed on the workers' CPU, takes %s µs p50", format(present(hop)))
		fmt.Fprintf(w, " (measured in blocks alternating with the remote calls'); remote − hop − local, round by round, leaves %s µs", format(relay))
		fmt.Fprintln(w, " to the agent's relay and the host's remote path.")
	}
	printScale(w, perRound)
}

// printScale prints the remote-scale rows by number of agents, with the
// rate at which the host would use a whole core (1 s ÷ its CPU per call).
func printScale(w io.Writer, perRound map[key][]float64) {
	get := func(wl, m string) float64 { return present(perRound[key{goRemoteSystem, wl, m}]) }
	var rows []string
	for n := 1; n <= scaleAgents; n++ {
		cells := []string{fmt.Sprint(n)}
		ran := false
		for _, kind := range []string{"w64", "burst"} {
			wl := fmt.Sprintf("remote-scale-%s-%d", kind, n)
			rate, hostUS := get(wl, "calls_per_s"), get(wl, "host_cpu_us_per_call")
			if !math.IsNaN(rate) {
				ran = true
			}
			cells = append(cells, format(rate), format(hostUS), format(get(wl, "worker_cpu_us_per_call")),
				format(get(wl, "host_cores")), format(get(wl, "worker_cores")), format(1e6/hostUS))
		}
		if ran {
			rows = append(rows, "| "+strings.Join(cells, " | ")+" |")
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### remote-scale: agents in network namespaces, host on one CPU, every agent on the other (medians)\n\n")
	fmt.Fprintln(w, "| agents | window64 calls/s | host µs/call | worker µs/call | host cores | worker cores | host limit calls/s | burst calls/s | host µs/call | worker µs/call | host cores | worker cores | host limit calls/s |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintln(w, strings.Join(rows, "\n"))
	fmt.Fprintln(w, "\nThe host limit is the rate at which the host would keep its one core busy at the CPU per call")
	fmt.Fprintln(w, "measured (1 s ÷ host µs per call): the most one host core drives, whatever the agents add.")
}
