// Command compare runs the same workloads on workestrator-go and on its
// peers (node-worker-farm, piscina, Python's ProcessPoolExecutor and
// multiprocessing.Pool) on this machine, interleaved over several rounds,
// and prints a markdown table of the median, min and max of every metric
// with its ratio to workestrator-go.
//
//	go run ./benchmarks/compare -quick
//	go run ./benchmarks/compare -rounds 5 -json results.jsonl
//	go run ./benchmarks/compare -systems workestrator-go,piscina -workloads seq,burst200k
//	go run ./benchmarks/compare -systems remote -workloads seq,window64,burst200k,remote-scale
//
// See benchmarks/README.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

func main() {
	child := flag.String("child", "", "internal: run one workestrator-go workload from this JSON spec and print its result")
	echo := flag.String("nats-echo", "", "internal: answer the NATS hop's requests on the server at this URL until killed")
	quick := flag.Bool("quick", false, "a short run: smaller workloads, 2 rounds (under two minutes on 2 cores)")
	rounds := flag.Int("rounds", 0, "rounds of every workload on every system (default 3, or 2 with -quick)")
	systems := flag.String("systems", "", "comma-separated systems to run (default: "+strings.Join(defaultSystems, ",")+"; also "+goPinnedSystem+", "+goRemoteSystem+"; \"remote\" selects those two)")
	workloads := flag.String("workloads", "", "comma-separated workloads to run (default all: "+strings.Join(allWorkloads, ",")+"); \"payload\" selects the three payload workloads")
	jsonOut := flag.String("json", "", "also write one JSON object per table row to this file")
	verbose := flag.Bool("v", false, "print each run's result and notes (farm statistics) on stderr")
	cpuProfile := flag.String("cpuprofile", "", "write CPU profiles of every workestrator-go run (host and workers) into this directory")
	flag.Parse()

	if *child != "" {
		os.Exit(childMain(*child, *cpuProfile))
	}
	if *echo != "" {
		os.Exit(natsEcho(*echo))
	}
	z := fullSizes
	if *quick {
		z = quickSizes
	}
	if *rounds == 0 {
		*rounds = 3
		if *quick {
			*rounds = 2
		}
	}
	sys, err := pick("system", *systems, allSystems, systemGroups)
	if *systems == "" {
		sys = defaultSystems
	}
	if err == nil {
		var wls []string
		wls, err = pick("workload", *workloads, allWorkloads, map[string][]string{
			"payload": {"payload-1KiB", "payload-1MiB", "payload-16MiB"},
		})
		if err == nil {
			err = run(config{sizes: z, quick: *quick, rounds: *rounds, systems: sys, workloads: wls, jsonOut: *jsonOut, verbose: *verbose, cpuProfile: *cpuProfile})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// pick parses a comma-separated filter against the known names, keeping
// the known order.
func pick(what, list string, known []string, groups map[string][]string) ([]string, error) {
	if list == "" {
		return known, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case groups[n] != nil:
			for _, g := range groups[n] {
				want[g] = true
			}
		case slices.Contains(known, n):
			want[n] = true
		default:
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, n, strings.Join(known, ", "))
		}
	}
	var out []string
	for _, n := range known {
		if want[n] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s selected", what)
	}
	return out, nil
}

// childMain runs one workestrator-go workload in this process and prints
// its Output as a JSON line: the parent runs workestrator-go in a fresh
// process for every run, like the peers, so that one run's heap and
// goroutines never weigh on the next.
func childMain(specJSON, profile string) int {
	var spec Spec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "compare -child:", err)
		return 2
	}
	if profile != "" {
		pf, err := os.Create(profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "compare -child:", err)
			return 2
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintln(os.Stderr, "compare -child:", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			pf.Close()
		}()
	}
	out, err := runGo(spec, profile)
	if err != nil {
		out.Error = err.Error()
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if err != nil {
		return 1
	}
	return 0
}

// profilePath names the CPU profile of one workestrator-go run, "" without
// -cpuprofile.
func (c config) profilePath(workload string, round int) string {
	if c.cpuProfile == "" {
		return ""
	}
	return filepath.Join(c.cpuProfile, fmt.Sprintf("%s-round%d.pprof", workload, round+1))
}

type config struct {
	sizes
	quick              bool
	rounds             int
	systems, workloads []string
	jsonOut            string
	verbose            bool
	cpuProfile         string
}

type key struct{ system, workload, metric string }

func run(cfg config) error {
	start := time.Now()
	if cfg.cpuProfile != "" {
		if err := os.MkdirAll(cfg.cpuProfile, 0o755); err != nil {
			return err
		}
	}
	env, err := prepare(cfg.systems)
	if err != nil {
		return err
	}
	defer env.cleanup()
	for _, s := range cfg.systems {
		if why := env.unavailable[s]; why != "" {
			fmt.Printf("Skipping %s: %s.\n", s, why)
		}
	}
	var live []string
	for _, s := range cfg.systems {
		if env.unavailable[s] == "" {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return fmt.Errorf("no system can run here")
	}

	values := map[key][]float64{}
	skipped := map[[2]string]string{} // system, workload -> why
	failed := map[[2]string]string{}
	perRound := map[key][]float64{} // by round, NaN where a run is missing
	for round := range cfg.rounds {
		for wi, w := range cfg.workloads {
			order := rotate(live, round+wi)
			for _, s := range order {
				pair := [2]string{s, w}
				if skipped[pair] != "" || failed[pair] != "" || notApplicable(s, w) != "" {
					continue
				}
				spec := cfg.specFor(s, w, env)
				t0 := time.Now()
				out, err := env.runOne(spec, time.Duration(cfg.runTimeoutS*float64(time.Second)), cfg.profilePath(w, round))
				el := time.Since(t0).Round(10 * time.Millisecond)
				switch {
				case err != nil:
					failed[pair] = fmt.Sprintf("round %d: %v", round+1, err)
					fmt.Fprintf(os.Stderr, "round %d/%d %-13s %-16s FAILED after %v: %v\n", round+1, cfg.rounds, w, s, el, err)
					continue
				case out.Skip != "":
					skipped[pair] = out.Skip
					fmt.Fprintf(os.Stderr, "round %d/%d %-13s %-16s skipped: %s\n", round+1, cfg.rounds, w, s, out.Skip)
					continue
				}
				var parts []string
				for _, r := range out.Rows {
					k := key{s, r.Workload, r.Metric}
					values[k] = append(values[k], r.Value)
					perRound[k] = setRound(perRound[k], round, r.Value)
					parts = append(parts, fmt.Sprintf("%s %s=%s", strings.TrimPrefix(r.Workload, w), r.Metric, format(r.Value)))
				}
				fmt.Fprintf(os.Stderr, "round %d/%d %-13s %-16s %v: %s\n", round+1, cfg.rounds, w, s, el, strings.Join(parts, " "))
				if cfg.verbose && out.Info != "" {
					fmt.Fprintf(os.Stderr, "    %s\n", out.Info)
				}
			}
		}
	}

	rows := aggregate(values, cfg.systems, cfg.workloads)
	mode := "full"
	if cfg.quick {
		mode = "quick (smaller workloads)"
	}
	fmt.Printf("\n## workestrator-go and its peers, %d rounds, %s\n\n", cfg.rounds, mode)
	fmt.Printf("%s; %d CPUs; %s\n\n", time.Now().Format("2006-01-02 15:04"), runtime.NumCPU(),
		strings.Join(append([]string{runtime.Version()}, env.versions...), "; "))
	fmt.Printf("Sizes: %s; 2 workers.\n\n", cfg.describe())
	printTable(os.Stdout, rows)
	printNotes(os.Stdout, cfg, live, skipped, failed)
	printRemote(os.Stdout, perRound, cfg.workloads)
	fmt.Printf("\nTotal time: %v.\n", time.Since(start).Round(100*time.Millisecond))
	if cfg.jsonOut != "" {
		if err := writeJSON(cfg.jsonOut, rows); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d system/workload pairs failed (see above)", len(failed))
	}
	return nil
}

func rotate(s []string, by int) []string {
	by %= len(s)
	return append(slices.Clone(s[by:]), s[:by]...)
}

// aggRow is one line of the table and of the JSON output.
type aggRow struct {
	System   string  `json:"system"`
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"` // the median
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Rounds   int     `json:"rounds"`
	ratio    float64 // Value / the base system's, 0 if none
	base     string  // the base system's workload it is compared with, if not the same
}

// baseSystem is the system whose median a system's rows are divided by:
// workestrator-go, or, for workestrator-go-remote, workestrator-go-pinned
// (the same split over two CPUs with local workers).
func baseSystem(s string) string {
	if s == goRemoteSystem {
		return goPinnedSystem
	}
	return goSystem
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// aggregate orders the rows by workload (payload rows of workestrator-go
// carry a -json, -cbor or -append suffix), metric, then system.
func aggregate(values map[key][]float64, systems, workloads []string) []aggRow {
	var rows []aggRow
	for _, w := range workloads {
		var keys []key
		for k := range values {
			if k.workload == w || strings.HasPrefix(k.workload, w+"-") {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b key) int {
			if c := strings.Compare(metricOrder(a.metric), metricOrder(b.metric)); c != 0 {
				return c
			}
			if c := strings.Compare(a.metric, b.metric); c != 0 {
				return c
			}
			if c := slices.Index(systems, a.system) - slices.Index(systems, b.system); c != 0 {
				return c
			}
			return strings.Compare(a.workload, b.workload)
		})
		for _, k := range keys {
			v := values[k]
			r := aggRow{System: k.system, Workload: k.workload, Metric: k.metric,
				Value: median(v), Min: slices.Min(v), Max: slices.Max(v), Rounds: len(v)}
			baseW, bs := k.workload, baseSystem(k.system)
			if _, ok := values[key{bs, baseW, k.metric}]; !ok {
				baseW = k.workload + "-json" // peers' payloads against workestrator-go's default serializer
			}
			if b, ok := values[key{bs, baseW, k.metric}]; ok && median(b) != 0 {
				r.ratio = r.Value / median(b)
				if baseW != k.workload {
					r.base = baseW
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// metricOrder puts the headline metric of a workload first.
func metricOrder(m string) string {
	for i, x := range []string{"calls_per_s", "p50_us", "p99_us", "nats_hop_p50_us", "nats_hop_p99_us", "host_cpu_us_per_call", "worker_cpu_us_per_call",
		"host_cores", "worker_cores", "other_cores", "call_us", "bytes_per_queued_call", "ms", "speedup", "ceiling_speedup", "single_ms", "rss_mb", "mb_per_s"} {
		if m == x {
			return fmt.Sprintf("%02d", i)
		}
	}
	return "99" + m
}

// lowerIsBetter says which metrics are costs rather than rates.
func lowerIsBetter(metric string) bool {
	switch metric {
	case "p50_us", "p99_us", "ms", "single_ms", "rss_mb", "bytes_per_queued_call",
		"nats_hop_p50_us", "nats_hop_p99_us", "host_cpu_us_per_call", "worker_cpu_us_per_call":
		return true
	}
	return false
}

// neutral says which metrics are neither rates nor costs: the cores a
// side, or other work, kept busy.
func neutral(metric string) bool {
	return metric == "host_cores" || metric == "worker_cores" || metric == "other_cores" || metric == "call_us"
}

func format(v float64) string {
	switch a := max(v, -v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func printTable(w io.Writer, rows []aggRow) {
	fmt.Fprintln(w, "| workload | metric | system | median | min | max | runs | ÷ base |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		m := r.Metric + " ↑"
		switch {
		case lowerIsBetter(r.Metric):
			m = r.Metric + " ↓"
		case neutral(r.Metric):
			m = r.Metric
		}
		ratio := "–"
		if r.ratio != 0 {
			ratio = fmt.Sprintf("%.2f×", r.ratio)
			if r.base != "" {
				ratio += " (vs " + strings.TrimPrefix(r.base, r.Workload+"-") + ")"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d | %s |\n",
			r.Workload, m, r.System, format(r.Value), format(r.Min), format(r.Max), r.Rounds, ratio)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "↑ higher is better, ↓ lower is better. The last column is the system's median divided by")
	fmt.Fprintln(w, "its base's for the same workload and metric: the base is workestrator-go, and "+goPinnedSystem+" for")
	fmt.Fprintln(w, goRemoteSystem+". Above 1 the system is faster on a ↑ metric, but slower (or bigger) on a")
	fmt.Fprintln(w, "↓ metric. Peers' payload rows are compared with workestrator-go's JSON row. Runs are")
	fmt.Fprintln(w, "interleaved: each round runs every workload once on every system, in a rotated order.")
}

func printNotes(w io.Writer, cfg config, live []string, skipped, failed map[[2]string]string) {
	var lines []string
	seen := map[string]bool{}
	for _, s := range live {
		for _, wl := range cfg.workloads {
			if why := notApplicable(s, wl); why != "" && !seen[why] {
				seen[why] = true
				lines = append(lines, "- Not run: "+why+".")
			}
		}
	}
	for _, s := range cfg.systems {
		for _, wl := range cfg.workloads {
			if why := skipped[[2]string{s, wl}]; why != "" {
				lines = append(lines, fmt.Sprintf("- %s %s: skipped: %s.", s, wl, why))
			}
			if why := failed[[2]string{s, wl}]; why != "" {
				lines = append(lines, fmt.Sprintf("- %s %s: FAILED (not run again): %s", s, wl, why))
			}
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

func writeJSON(path string, rows []aggRow) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
