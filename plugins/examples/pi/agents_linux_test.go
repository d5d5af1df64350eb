package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests of -agents run real agents, as child processes of the example;
// those that signal an agent run the example's binary as a child of the
// test and find its agents in /proc.

// Bounds of the waits, generous for a loaded 2-core machine.
const (
	startBound = 60 * time.Second // the example's build, single-process run and agents' start
	runBound   = 60 * time.Second // the whole run of the example
	goneBound  = 10 * time.Second // the agents and workers gone after the example exits
)

// bigRun makes the farm's run last over a second on two cores, so that an
// agent is lost in its middle.
var bigRun = []string{"-agents", "2", "-workers", "1", "-points", "6e8", "-chunks", "100"}

func TestPiAgents(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), &out, options{points: 2_000_003, chunks: 20, workers: 1, agents: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^Monte Carlo π with 2000003 points in 20 chunks
single process: +π ≈ (\d\.\d+) in \S+
agents joined: +agent-1, agent-2, 1 worker each
farm of 2 workers on 2 agents: π ≈ (\d\.\d+) in \S+
points counted: 2000003
agent-1: +\d+ chunks?
agent-2: +\d+ chunks?
speedup: \d+\.\d\d× on \d+ CPUs
$`)
	m := want.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	checkEstimates(t, m[1], m[2])
	if n := chunksRun(t, out.String()); n != 20 {
		t.Fatalf("agents ran %d chunks, want 20:\n%s", n, out.String())
	}
	// The agents were reaped: no child of this process is left, not even
	// a zombie.
	if c := childrenOf(os.Getpid()); len(c) > 0 {
		t.Fatalf("children left: %v", c)
	}
}

func TestPiAgentKilled(t *testing.T) { testAgentLost(t, syscall.SIGKILL) }

func TestPiAgentFrozen(t *testing.T) { testAgentLost(t, syscall.SIGSTOP) }

// testAgentLost sends sig to one of two agents in the middle of the run:
// the job must finish on the other, count every point once, exit 0 and
// leave no process behind.
func testAgentLost(t *testing.T, sig syscall.Signal) {
	r := startPi(t, bigRun...)
	agents := r.agents(t, 2)
	victim := agents["agent-1"]
	r.progress(t, victim)
	if err := sendSignal(victim, sig); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit status %d after %v of agent-1\nstdout:\n%s\nstderr:\n%s", code, sig, r.stdout.String(), r.stderr.String())
	}
	out := r.stdout.String()
	t.Logf("after %v of agent-1:\n%s%s", sig, out, r.stderr.String())
	if !strings.Contains(out, "\npoints counted: 600000000\n") {
		t.Fatalf("no points counted line with -points:\n%s", out)
	}
	if n := chunksRun(t, out); n != 100 {
		t.Fatalf("agents ran %d chunks, want 100:\n%s", n, out)
	}
	// agent-1 was lost with a chunk in flight (it always has one in the
	// middle of the run), which ran again on agent-2.
	if !regexp.MustCompile(`(?m)^agent-1: +\d+ chunks?, [1-9]\d* lost and run again elsewhere$`).MatchString(out) {
		t.Fatalf("agent-1 lost no chunk:\n%s\nstderr:\n%s", out, r.stderr.String())
	}
	checkGone(t, agents)
}

// TestPiInterrupted interrupts the example in the middle of the run: it
// fails, and kills and reaps its agents.
func TestPiInterrupted(t *testing.T) {
	r := startPi(t, bigRun...)
	agents := r.agents(t, 2)
	r.progress(t, agents["agent-2"])
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit status %d after SIGINT, want 1\nstdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	checkGone(t, agents)
}

// chunksRun adds up the chunks of the agents' lines of out.
func chunksRun(t *testing.T, out string) int {
	t.Helper()
	sum := 0
	for _, m := range regexp.MustCompile(`(?m)^agent-\d+: +(\d+) chunks?`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		sum += n
	}
	return sum
}

// piRun is the example's binary running as a child of the test.
type piRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed once it is reaped; then err is set
	err            error
}

// startPi runs the example with args; it is killed after runBound, or
// when the test ends.
func startPi(t *testing.T, args ...string) *piRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	r := &piRun{done: make(chan struct{})}
	r.cmd = exec.CommandContext(ctx, exampleBinary(t), args...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.WaitDelay = goneBound // should an agent keep the example's stderr open
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		cancel()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait waits for the example to exit and returns its exit status.
func (r *piRun) wait(t *testing.T) int {
	t.Helper()
	<-r.done
	var ee *exec.ExitError
	switch {
	case r.err == nil:
		return 0
	case errors.As(r.err, &ee) && ee.Exited():
		return ee.ExitCode()
	}
	t.Fatalf("example: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout.String(), r.stderr.String())
	return -1
}

// agents waits until the example has n agent children (workestrator
// serve) and returns them by name.
func (r *piRun) agents(t *testing.T, n int) map[string]proc {
	t.Helper()
	var agents map[string]proc
	eventually(t, startBound, "the example's agents", r, func() bool {
		agents = make(map[string]proc)
		for _, c := range childrenOf(r.cmd.Process.Pid) {
			if len(c.args) > 1 && c.args[1] == "serve" {
				agents[flagValue(c.args, "--name")] = c
			}
		}
		return len(agents) == n
	})
	return agents
}

// progress waits until agent's workers have computed for 0.2 s: the
// farm's run is under way and the agent has chunks in flight.
func (r *piRun) progress(t *testing.T, agent proc) {
	t.Helper()
	eventually(t, startBound, agent.args[len(agent.args)-1]+" of "+flagValue(agent.args, "--name")+" computing", r, func() bool {
		var cpu uint64
		for _, w := range workersOf(agent) {
			cpu += w.cpu
		}
		return cpu >= 20
	})
}

// eventually polls cond until it holds, the example exits or timeout
// passes.
func eventually(t *testing.T, timeout time.Duration, what string, r *piRun, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-r.done:
			t.Fatalf("the example exited (%v) before %s\nstdout:\n%s\nstderr:\n%s", r.err, what, r.stdout.String(), r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkGone checks, within goneBound, that the agents and their workers
// are gone.
func checkGone(t *testing.T, agents map[string]proc) {
	t.Helper()
	workers := make(map[string]bool)
	for _, a := range agents {
		workers[a.args[len(a.args)-1]] = true
	}
	var left []proc
	deadline := time.Now().Add(goneBound)
	for {
		left = left[:0]
		for _, a := range agents {
			if a.alive() {
				left = append(left, a)
			}
		}
		for _, p := range procs() {
			if len(p.args) > 0 && workers[p.args[0]] {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left %v after the example exited: %v", goneBound, left)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendSignal sends sig to p unless its pid is another process's by now.
func sendSignal(p proc, sig syscall.Signal) error {
	h, err := os.FindProcess(p.pid) // a pidfd: the signal goes to that process
	if err != nil {
		return err
	}
	defer h.Release()
	if !p.alive() {
		return errors.New("the agent is gone")
	}
	return h.Signal(sig)
}

// flagValue returns the value that follows name in args.
func flagValue(args []string, name string) string {
	for i, a := range args[:len(args)-1] {
		if a == name {
			return args[i+1]
		}
	}
	return ""
}

// proc is a process as /proc shows it.
type proc struct {
	pid, ppid int
	start     uint64 // start time after boot, in clock ticks: tells apart processes of one pid
	cpu       uint64 // user and system time, in clock ticks (1/100 s)
	args      []string
}

// readProc reads /proc/pid; false when there is no such process.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid ... utime(14) stime(15) ... starttime(22)
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return proc{}, false
	}
	num := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	p := proc{pid: pid, ppid: int(num(f[1])), start: num(f[19]), cpu: num(f[11]) + num(f[12])}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if s := strings.TrimSuffix(string(cmdline), "\x00"); s != "" {
		p.args = strings.Split(s, "\x00")
	}
	return p, true
}

// alive reports whether p still exists, as a zombie too.
func (p proc) alive() bool {
	q, ok := readProc(p.pid)
	return ok && q.start == p.start
}

// procs lists the processes of the machine.
func procs() []proc {
	entries, _ := os.ReadDir("/proc")
	var ps []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// childrenOf lists the children of process pid, zombies included.
func childrenOf(pid int) []proc {
	var c []proc
	for _, p := range procs() {
		if p.ppid == pid {
			c = append(c, p)
		}
	}
	return c
}

// workersOf lists the worker processes of an agent: its children running
// the worker binary its command line names.
func workersOf(agent proc) []proc {
	var w []proc
	for _, c := range childrenOf(agent.pid) {
		if len(c.args) > 0 && c.args[0] == agent.args[len(agent.args)-1] {
			w = append(w, c)
		}
	}
	return w
}
