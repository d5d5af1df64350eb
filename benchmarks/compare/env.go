package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const comparePkg = "github.com/workestrator/workestrator/benchmarks/compare"

// environment is what the runs need: the worker binary, the peers'
// directories, and the systems that cannot run here (with the reason).
type environment struct {
	self        string // this program, for the workestrator-go child runs
	benchDir    string
	tmp         string
	workerPath  string
	agentPath   string   // the workestrator command, for the remote agents
	taskset     string   // the taskset program, for the pinned systems
	cpus        []string // the host's CPU and the workers', for the pinned systems
	unavailable map[string]string
	versions    []string
}

func (e *environment) cleanup() { _ = os.RemoveAll(e.tmp) }

// prepare builds the workestrator-go worker, checks the peers' runtimes and
// installs the node peers (npm ci) when their node_modules is missing.
func prepare(systems []string) (*environment, error) {
	e := &environment{unavailable: map[string]string{}}
	var err error
	if e.self, err = os.Executable(); err != nil {
		return nil, err
	}
	dir, err := exec.Command("go", "list", "-f", "{{.Dir}}", comparePkg).Output()
	if err != nil {
		return nil, fmt.Errorf("locating %s (run from inside the module): %w", comparePkg, errors.Join(err, stderrOf(err)))
	}
	e.benchDir = filepath.Dir(strings.TrimSpace(string(dir)))
	if e.tmp, err = os.MkdirTemp("", "workestrator-compare-"); err != nil {
		return nil, err
	}
	want := func(s string) bool {
		for _, x := range systems {
			if x == s {
				return true
			}
		}
		return false
	}

	if want(goPinnedSystem) || want(goRemoteSystem) {
		if why := e.pinning(); why != "" {
			e.unavailable[goPinnedSystem], e.unavailable[goRemoteSystem] = why, why
		} else if want(goRemoteSystem) {
			e.agentPath = filepath.Join(e.tmp, "workestrator")
			cmd := exec.Command("go", "build", "-o", e.agentPath, "./cmd/workestrator")
			cmd.Dir = filepath.Join(e.benchDir, "..")
			if out, err := cmd.CombinedOutput(); err != nil {
				e.cleanup()
				return nil, fmt.Errorf("building the agent (cmd/workestrator): %v\n%s", err, out)
			}
		}
	}
	if want(goSystem) || (want(goPinnedSystem) && e.unavailable[goPinnedSystem] == "") || e.agentPath != "" {
		e.workerPath = filepath.Join(e.tmp, "worker")
		cmd := exec.Command("go", "build", "-o", e.workerPath, "./worker")
		cmd.Dir = e.benchDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as README advises for workers
		if out, err := cmd.CombinedOutput(); err != nil {
			e.cleanup()
			return nil, fmt.Errorf("building the worker: %v\n%s", err, out)
		}
	}

	if want("node-worker-farm") || want("piscina") {
		why := ""
		if _, err := exec.LookPath("node"); err != nil {
			why = "no node on PATH"
		} else if _, err := exec.LookPath("npm"); err != nil {
			why = "no npm on PATH"
		} else if why = e.npmCI(); why == "" {
			e.versions = append(e.versions, "node "+version("node", "--version"))
		}
		if why != "" {
			e.unavailable["node-worker-farm"], e.unavailable["piscina"] = why, why
		}
	}
	if want(goNodeSystem) {
		if _, err := exec.LookPath("node"); err != nil {
			e.unavailable[goNodeSystem] = "no node on PATH"
		} else if why := e.npmCIIn(filepath.Join(e.benchDir, "..", "sdk", "node")); why != "" {
			e.unavailable[goNodeSystem] = why
		} else if why := e.npmCI(); why != "" { // wf-worker.js's kernels
			e.unavailable[goNodeSystem] = why
		}
	}
	if want("python-ppe") || want("python-mp-pool") {
		if _, err := exec.LookPath("python3"); err != nil {
			e.unavailable["python-ppe"], e.unavailable["python-mp-pool"] = "no python3 on PATH", "no python3 on PATH"
		} else {
			e.versions = append(e.versions, strings.ToLower(version("python3", "--version")))
		}
	}
	return e, nil
}

// pinning finds taskset and the two CPUs of the pinned systems (the first
// two this process may run on); it returns why they cannot run, or "".
func (e *environment) pinning() string {
	var err error
	if e.taskset, err = exec.LookPath("taskset"); err != nil {
		return "no taskset on PATH (util-linux)"
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "sched_getaffinity: " + err.Error()
	}
	for c := 0; c < 1024 && len(e.cpus) < 2; c++ {
		if set.IsSet(c) {
			e.cpus = append(e.cpus, strconv.Itoa(c))
		}
	}
	if len(e.cpus) < 2 {
		return fmt.Sprintf("they need 2 CPUs, this process may run on %d", set.Count())
	}
	return ""
}

// npmCI installs the node peers from package-lock.json when node_modules is
// missing; it returns why the node peers cannot run, or "".
func (e *environment) npmCI() string { return e.npmCIIn(filepath.Join(e.benchDir, "peers", "node")) }

// npmCIIn is npmCI for the package in dir.
func (e *environment) npmCIIn(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return ""
	}
	fmt.Fprintln(os.Stderr, "compare: npm ci in", dir)
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("npm ci failed (%v): %s", err, lastLines(out, 3))
	}
	return ""
}

func version(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown version"
	}
	return strings.TrimSpace(string(out))
}

// runOne runs one spec in a subprocess (a peer's script, or this program in
// child mode for workestrator-go) in its own process group, killed whole if
// it outlives timeout, and parses the last line it prints.
func (e *environment) runOne(spec Spec, timeout time.Duration, profile string) (Output, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return Output{}, err
	}
	var name string
	var args []string
	switch spec.System {
	case goSystem, goNodeSystem, goPinnedSystem, goRemoteSystem:
		name, args = e.self, []string{"-child", string(b)}
		if profile != "" {
			args = append([]string{"-cpuprofile", profile}, args...)
		}
		if pinnedSystem(spec.System) {
			// On the host's CPU from its start: the Go runtime sizes
			// GOMAXPROCS from the affinity it starts with.
			name, args = e.taskset, append([]string{"-c", spec.HostCPU, e.self}, args...)
		}
	case "node-worker-farm", "piscina":
		name, args = "node", []string{filepath.Join(e.benchDir, "peers", "node", "bench.js"), string(b)}
	case "python-ppe", "python-mp-pool":
		name, args = "python3", []string{filepath.Join(e.benchDir, "peers", "python", "bench.py"), string(b)}
	default:
		return Output{}, fmt.Errorf("unknown system %q", spec.System)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	// Whatever the runner left behind in its group goes too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ctx.Err() != nil {
		return Output{}, fmt.Errorf("timed out after %v; stderr: %s", timeout, lastLines(stderr.Bytes(), 3))
	}
	var out Output
	line := lastLines(stdout.Bytes(), 1)
	if err := json.Unmarshal([]byte(line), &out); err != nil {
		return Output{}, fmt.Errorf("%v; stdout %q; stderr: %s", errors.Join(runErr, err), line, lastLines(stderr.Bytes(), 5))
	}
	if out.Error != "" {
		msg := out.Error
		if s := lastLines(stderr.Bytes(), 5); s != "" {
			msg += "; stderr: " + s
		}
		return out, errors.New(msg)
	}
	if runErr != nil {
		return out, fmt.Errorf("%v; stderr: %s", runErr, lastLines(stderr.Bytes(), 5))
	}
	return out, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

func stderrOf(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return errors.New(strings.TrimSpace(string(ee.Stderr)))
	}
	return nil
}
