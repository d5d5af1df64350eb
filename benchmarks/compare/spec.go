package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Spec is what one run of one workload on one system needs. The compare
// program passes it as JSON to every runner: the peers' scripts and its own
// child process for workestrator-go.
type Spec struct {
	System   string `json:"system"`
	Workload string `json:"workload"`
	Workers  int    `json:"workers"`
	// Calls is the number of measured calls; Warmup calls run before them,
	// untimed (seq and the payloads).
	Calls  int `json:"calls,omitempty"`
	Warmup int `json:"warmup,omitempty"`
	// Window is the number of calls outstanding at a time.
	Window int `json:"window,omitempty"`
	// PerWorker is the per-worker cap on calls in flight, for the systems
	// that have one (workestrator-go, node-worker-farm, piscina's
	// concurrentTasksPerWorker).
	PerWorker int `json:"per_worker,omitempty"`
	// TTL is the number of calls after which a worker is replaced.
	TTL int `json:"ttl,omitempty"`
	// Points and Chunks size the pi workload; BaselineChunks is how many of
	// the chunks the single-process baseline runs (its time is scaled up to
	// all chunks).
	Points         int `json:"points,omitempty"`
	Chunks         int `json:"chunks,omitempty"`
	BaselineChunks int `json:"baseline_chunks,omitempty"`
	// Size is the payload size in bytes.
	Size int `json:"size,omitempty"`
	// HangTimeoutS bounds a run that is known to hang (python-ppe ttl1000).
	HangTimeoutS float64 `json:"hang_timeout_s,omitempty"`
	// WorkerPath is the workestrator-go worker binary, WorkerArgs its
	// arguments.
	WorkerPath string   `json:"worker_path,omitempty"`
	WorkerArgs []string `json:"worker_args,omitempty"`

	// The pinned systems (workestrator-go-pinned and -remote): Taskset is
	// the taskset program, HostCPU the CPU of the host process (compare
	// starts it under taskset), WorkerCPU that of the workers and agents;
	// AgentPath is the workestrator command an agent runs.
	Taskset   string `json:"taskset,omitempty"`
	HostCPU   string `json:"host_cpu,omitempty"`
	WorkerCPU string `json:"worker_cpu,omitempty"`
	AgentPath string `json:"agent_path,omitempty"`
	// Agents is the most agents remote-scale runs through; BurstCalls the
	// size of its bursts.
	Agents     int `json:"agents,omitempty"`
	BurstCalls int `json:"burst_calls,omitempty"`
}

// Row is one measured value of one run.
type Row struct {
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
}

// Output is what a runner prints on stdout, as the last line: rows, or a
// reason to skip the pair, or an error.
type Output struct {
	Rows  []Row  `json:"rows,omitempty"`
	Skip  string `json:"skip,omitempty"`
	Error string `json:"error,omitempty"`
	// Info is a free-form note (workestrator-go: farm statistics), shown
	// with -v.
	Info string `json:"info,omitempty"`
}

// sizes holds the workload sizes of a full or a quick run.
type sizes struct {
	seqCalls, seqWarmup     int
	windowCalls             int
	burstCalls              int
	ttlCalls                int
	piPoints, piChunks      int
	payloadCalls            map[string]int
	hangTimeoutS            float64
	runTimeoutS             float64
	pythonBaselineChunks    int
	perWorker, burstPerWork int
	images                  int
	workCalls               int
}

// describe lists the sizes, for the table's heading.
func (z sizes) describe() string {
	return fmt.Sprintf("seq %d calls after %d; window64 %d; burst200k %d; ttl1000 %d; pi %.0e points in %d chunks; payloads %d / %d / %d calls; images %d; remote-scale 1 to %d agents, window64 %d and burst %d each; work64 %d and %d calls",
		z.seqCalls, z.seqWarmup, z.windowCalls, z.burstCalls, z.ttlCalls, float64(z.piPoints), z.piChunks,
		z.payloadCalls["payload-1KiB"], z.payloadCalls["payload-1MiB"], z.payloadCalls["payload-16MiB"], z.images,
		scaleAgents, z.windowCalls, z.burstCalls, z.workCalls, z.workCalls*workPoints[0]/workPoints[1])
}

var fullSizes = sizes{
	seqCalls: 5000, seqWarmup: 1000,
	windowCalls:  50000,
	burstCalls:   200000,
	ttlCalls:     20000,
	piPoints:     200_000_000,
	piChunks:     100,
	payloadCalls: map[string]int{"payload-1KiB": 5000, "payload-1MiB": 1000, "payload-16MiB": 64},
	hangTimeoutS: 60, runTimeoutS: 600,
	pythonBaselineChunks: 10,
	perWorker:            64, burstPerWork: 256,
	images:    200,
	workCalls: 30000,
}

var quickSizes = sizes{
	seqCalls: 1000, seqWarmup: 300,
	windowCalls:  5000,
	burstCalls:   20000,
	ttlCalls:     5000,
	piPoints:     10_000_000,
	piChunks:     100,
	payloadCalls: map[string]int{"payload-1KiB": 500, "payload-1MiB": 32, "payload-16MiB": 2},
	hangTimeoutS: 10, runTimeoutS: 120,
	pythonBaselineChunks: 5,
	perWorker:            64, burstPerWork: 256,
	images:    60,
	workCalls: 6000,
}

var payloadSizes = map[string]int{
	"payload-1KiB":  1 << 10,
	"payload-1MiB":  1 << 20,
	"payload-16MiB": 16 << 20,
}

// allWorkloads in the order they run and print.
var allWorkloads = []string{
	"seq", "window64", "burst200k", "ttl1000", "pi", "startup",
	"payload-1KiB", "payload-1MiB", "payload-16MiB", "images", "remote-scale", "work64",
}

// scaleAgents is the most agents remote-scale runs through.
const scaleAgents = 3

const goSystem = "workestrator-go"

// goNodeSystem is the Go farm driving the Node.js SDK's worker
// (sdk/node) with the module node-worker-farm runs
// (peers/node/wf-worker.js).
const goNodeSystem = "workestrator-go-node"

// goPinnedSystem is workestrator-go with the host process on one CPU and
// its 2 workers on another; goRemoteSystem the same split with the
// workers behind an agent over NATS: host (with its embedded NATS server)
// on one CPU, the agent and its 2 workers on the other, as two machines
// would split them. Their rows are compared with each other (remote ÷
// pinned).
const (
	goPinnedSystem = "workestrator-go-pinned"
	goRemoteSystem = "workestrator-go-remote"
)

// defaultSystems run without -systems: the peers' comparison.
var defaultSystems = []string{goSystem, goNodeSystem, "node-worker-farm", "piscina", "python-ppe", "python-mp-pool"}

// allSystems are those -systems knows.
var allSystems = append(slices.Clone(defaultSystems), goPinnedSystem, goRemoteSystem)

// systemGroups are names of several systems for -systems.
var systemGroups = map[string][]string{"remote": {goPinnedSystem, goRemoteSystem}}

// pinnedSystem reports whether s splits host and workers over two CPUs.
func pinnedSystem(s string) bool { return s == goPinnedSystem || s == goRemoteSystem }

// pinnedWorkloads are the workloads of the pinned systems.
var pinnedWorkloads = []string{"seq", "window64", "burst200k", "work64"}

// notApplicable says why system does not run workload, or "".
func notApplicable(system, workload string) string {
	switch {
	case workload == "remote-scale" && system != goRemoteSystem:
		return "remote-scale runs on " + goRemoteSystem + " only"
	case workload == "images" && system == goNodeSystem:
		return "images runs Go's image codecs; node-worker-farm's module has no such function"
	case workload == "work64" && !pinnedSystem(system):
		return "work64 runs on the pinned systems only"
	case pinnedSystem(system) && workload != "remote-scale" && !slices.Contains(pinnedWorkloads, workload):
		return "the pinned systems run " + strings.Join(pinnedWorkloads, ", ") + " and remote-scale only"
	}
	return ""
}

// specFor builds the spec of one run.
func (z sizes) specFor(system, workload string, e *environment) Spec {
	s := Spec{System: system, Workload: workload, Workers: 2, PerWorker: z.perWorker}
	switch workload {
	case "seq":
		s.Calls, s.Warmup = z.seqCalls, z.seqWarmup
	case "window64":
		s.Calls, s.Window = z.windowCalls, 64
	case "burst200k":
		s.Calls, s.PerWorker = z.burstCalls, z.burstPerWork
	case "ttl1000":
		s.Calls, s.Window, s.TTL = z.ttlCalls, 64, 1000
		if system == "python-ppe" {
			s.HangTimeoutS = z.hangTimeoutS
		}
	case "pi":
		s.Points, s.Chunks, s.PerWorker = z.piPoints, z.piChunks, 2
		s.BaselineChunks = z.piChunks
		if system == "python-ppe" || system == "python-mp-pool" {
			s.BaselineChunks = z.pythonBaselineChunks
		}
	case "startup":
	case "work64":
		s.Calls, s.Window = z.workCalls, 64
	case "remote-scale":
		s.Calls, s.Window, s.BurstCalls, s.Agents = z.windowCalls, 64, z.burstCalls, scaleAgents
		s.PerWorker = z.burstPerWork // as burst200k's; the window's 64 calls never reach it
	case "images":
		s.Calls, s.PerWorker = z.images, 2
	default:
		if size, ok := payloadSizes[workload]; ok {
			s.Size, s.Calls, s.PerWorker = size, z.payloadCalls[workload], 2
			// Untimed echoes first, an eighth as many: a JIT compiles, a
			// heap grows to its working size.
			s.Warmup = max(s.Calls/8, 1)
			s.Window = min(4, s.Calls)
		}
	}
	switch system {
	case goSystem:
		s.WorkerPath = e.workerPath
	case goPinnedSystem, goRemoteSystem:
		s.WorkerPath, s.AgentPath = e.workerPath, e.agentPath
		s.Taskset, s.HostCPU, s.WorkerCPU = e.taskset, e.cpus[0], e.cpus[1]
	case goNodeSystem:
		s.WorkerPath = filepath.Join(e.benchDir, "..", "sdk", "node", "bin", "workestrator-worker")
		s.WorkerArgs = []string{filepath.Join(e.benchDir, "peers", "node", "wf-worker.js")}
	}
	return s
}
