package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// AgentPkg is the package of the workestrator command, whose `serve` runs
// an agent.
const AgentPkg = "./cmd/workestrator"

// AgentFates are what the soak does to an agent, in turn:
//
//	kill      SIGKILL; once the farm lost it, a new agent of the same name
//	stop      SIGSTOP until the farm lost it, and up to 2 heartbeats more;
//	          then SIGCONT: the same agent must join again
//	term      SIGTERM: it drains and exits 0; then a new one of the same name
//	kill-new  SIGKILL, and a new agent of a new name at once, while the
//	          farm loses the old one
//	pause     SIGSTOP for 1 to 2 heartbeats, under the bound: the attempts
//	          on it time out and are retried elsewhere, but it is not lost
//	          (on a machine not too loaded) and answers them late
var AgentFates = []string{"kill", "stop", "term", "kill-new", "pause"}

// MoreAgentFates are agent fates that ChaosConfig.AgentFateKinds may add;
// the agents then reach the NATS server through a Gate each:
//
//	partition  the link toward the agent held for 5 heartbeats: the agent
//	           no longer hears the farm, which still hears it
//	cut        the link held both ways until the farm lost the agent, and
//	           up to 2 heartbeats more: it must join again
var MoreAgentFates = []string{"partition", "cut"}

// Bounds of the agents' fates.
const (
	agentDrain = 5 * time.Second  // the agents' --drain-timeout
	joinBound  = 20 * time.Second // an agent's start and join
)

// agentProc is one `workestrator serve` process.
type agentProc struct {
	name string
	gate *Gate // its link to the NATS server, with partition or cut
	cmd  *exec.Cmd
	log  string        // its output
	done chan struct{} // closed once it exited
	err  error         // its Wait's, once done is closed
}

// agents are the agent processes of a run in remote mode, and their fates.
type agents struct {
	r     *run
	kinds []string     // the fates, in turn
	gated bool         // the agents reach the server through gates
	args  []string     // of `workestrator serve`, but --nats, --name and the worker
	procs []*agentProc // the current ones
	all   []*agentProc // all those started
	rng   *rand.Rand

	// The fates: applied at call at[j], one at a time; running is closed
	// when the current one is over.
	at      []int
	next    int
	running chan struct{}

	mu      sync.Mutex
	bad     []string       // violations, merged into the report at the end
	applied map[string]int // fates applied, by kind
	losses  []time.Duration
}

// startAgents starts cfg.Agents agents against the farm's embedded server
// and waits until their workers are online.
func (r *run) startAgents() error {
	cfg := r.cfg
	a := &agents{r: r, applied: map[string]int{}, rng: rand.New(rand.NewPCG(cfg.Seed^0xa9e27, cfg.Seed))}
	a.kinds = r.fateKinds()
	for _, k := range a.kinds {
		switch {
		case slices.Contains(MoreAgentFates, k):
			a.gated = true
		case !slices.Contains(AgentFates, k):
			return fmt.Errorf("unknown agent fate %q", k)
		}
	}
	a.args = []string{"serve", "--workers", strconv.Itoa(cfg.AgentWorkers),
		"--heartbeat", cfg.Heartbeat.String(), "--kill-timeout", effKillTimeout(cfg.KillTimeout).String(),
		"--drain-timeout", agentDrain.String(), "--log-level", "warn", "--env", "CHAOS_JOURNAL=" + r.journalPath()}
	if cfg.PerWorker > 0 {
		a.args = append(a.args, "--max-per-worker", strconv.Itoa(cfg.PerWorker))
	}
	if cfg.MaxWorkerMemory > 0 {
		a.args = append(a.args, "--max-memory", strconv.FormatInt(cfg.MaxWorkerMemory, 10))
	}
	if cfg.MaxWorkerMemoryHard > 0 {
		a.args = append(a.args, "--max-memory-hard", strconv.FormatInt(cfg.MaxWorkerMemoryHard, 10))
	}
	for j := range cfg.AgentFates {
		a.at = append(a.at, (j+1)*cfg.Calls/(cfg.AgentFates+1))
	}
	r.agents = a
	for range cfg.Agents {
		p, err := a.start(a.newName())
		if err != nil {
			return err
		}
		a.procs = append(a.procs, p)
	}
	for _, p := range a.procs {
		if !a.waitJoined(p) {
			return fmt.Errorf("agent %s did not join within %v:\n%s", p.name, joinBound, tail(p.log))
		}
	}
	return nil
}

// newName names the next agent: a1, a2...
func (a *agents) newName() string { return "a" + strconv.Itoa(len(a.all)+1) }

// start starts an agent named name.
func (a *agents) start(name string) (*agentProc, error) {
	p := &agentProc{name: name, done: make(chan struct{}),
		log: filepath.Join(a.r.tmp, fmt.Sprintf("agent-%d-%s.log", len(a.all)+1, name))}
	out, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the agent has its own copy
	url := a.r.f.URL()
	if a.gated {
		if p.gate, err = NewGate(strings.TrimPrefix(url, "nats://")); err != nil {
			return nil, err
		}
		url = "nats://" + p.gate.Addr()
	}
	args := append(append([]string{}, a.args...), "--nats", url, "--name", name, a.r.cfg.Worker)
	p.cmd = exec.Command(a.r.cfg.AgentBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// Should the soak die, its agents die with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		if p.gate != nil {
			p.gate.Close()
		}
		return nil, fmt.Errorf("start agent %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		if p.gate != nil {
			p.gate.Close()
		}
		close(p.done)
	}()
	a.all = append(a.all, p)
	return p, nil
}

func (a *agents) violate(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bad = append(a.bad, fmt.Sprintf(format, args...))
}

// workers counts the farm's workers of agent name, and those online.
func (a *agents) workers(name string) (all, online int) {
	for _, w := range a.r.f.Stats().Workers {
		if w.Agent == name {
			all++
			if w.State == "online" {
				online++
			}
		}
	}
	return all, online
}

// waitJoined waits until the farm has p's workers online.
func (a *agents) waitJoined(p *agentProc) bool {
	return testutil.WaitFor(joinBound, func() bool {
		_, online := a.workers(p.name)
		return online == a.r.cfg.AgentWorkers
	})
}

// waitLost waits until the farm has no worker of p, which it must lose
// within its heartbeats and a margin of since; it reports how long that
// took.
func (a *agents) waitLost(p *agentProc, since time.Time, bound time.Duration) time.Duration {
	if !testutil.WaitFor(time.Until(since.Add(bound)), func() bool {
		all, _ := a.workers(p.name)
		return all == 0
	}) {
		a.violate("agent %s: still in the farm %v after its fate", p.name, bound)
		return -1
	}
	return time.Since(since)
}

// lossBound is how soon the farm must lose an agent killed or frozen: 3
// heartbeats, and a margin for a loaded machine.
func (a *agents) lossBound() time.Duration {
	return farm.HeartbeatMisses*a.r.cfg.Heartbeat + 2*time.Second
}

// tick applies the fates due at call i, each once the one before is over
// (or ctx ended); the fate runs while the calls go on.
func (a *agents) tick(ctx context.Context, i int) {
	for a.next < len(a.at) && i >= a.at[a.next] {
		if a.running != nil {
			select {
			case <-a.running:
			case <-ctx.Done():
				return
			}
		}
		kind := a.kinds[a.next%len(a.kinds)]
		place := a.rng.IntN(len(a.procs))
		// The fates' random holds, drawn here: the RNG is not shared.
		hold := time.Duration(a.rng.Int64N(int64(2 * a.r.cfg.Heartbeat)))
		a.next++
		done := make(chan struct{})
		a.running = done
		go func() {
			defer close(done)
			a.apply(kind, place, hold)
		}()
	}
}

// wait waits for the last fate to be over.
func (a *agents) wait() {
	if a.running != nil {
		<-a.running
	}
}

// apply applies fate kind to the agent at place, and checks that the farm
// loses it in time and that it (or its successor) joins again; hold, up to
// 2 heartbeats, lengthens its freezes and cuts.
func (a *agents) apply(kind string, place int, hold time.Duration) {
	p := a.procs[place]
	signal := func(sig syscall.Signal) bool {
		if err := p.cmd.Process.Signal(sig); err != nil {
			a.violate("agent %s: %v: %v", p.name, sig, err)
			return false
		}
		return true
	}
	since := time.Now()
	next := p
	switch kind {
	case "kill", "kill-new":
		if !signal(syscall.SIGKILL) {
			return
		}
		if kind == "kill-new" {
			next = a.restart(place, a.newName())
		}
		a.lost(a.waitLost(p, since, a.lossBound()))
		<-p.done
		if kind == "kill" {
			next = a.restart(place, p.name)
		}
	case "stop":
		if !signal(syscall.SIGSTOP) {
			return
		}
		a.lost(a.waitLost(p, since, a.lossBound()))
		time.Sleep(hold)
		if !signal(syscall.SIGCONT) {
			return
		}
	case "pause":
		if !signal(syscall.SIGSTOP) {
			return
		}
		time.Sleep(a.r.cfg.Heartbeat + hold/2)
		if !signal(syscall.SIGCONT) {
			return
		}
	case "partition":
		p.gate.Hold(true, false)
		time.Sleep(5 * a.r.cfg.Heartbeat)
		p.gate.Hold(false, false)
	case "cut":
		p.gate.Hold(true, true)
		a.lost(a.waitLost(p, since, a.lossBound()))
		time.Sleep(hold)
		p.gate.Hold(false, false)
	case "term":
		if !signal(syscall.SIGTERM) {
			return
		}
		select {
		case <-p.done:
			if p.err != nil {
				a.violate("agent %s: after SIGTERM: %v, want exit status 0:\n%s", p.name, p.err, tail(p.log))
			}
		case <-time.After(agentDrain + 5*time.Second):
			a.violate("agent %s: still running %v after SIGTERM (drain timeout %v):\n%s", p.name, agentDrain+5*time.Second, agentDrain, tail(p.log))
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		// It said goodbye before it exited.
		a.waitLost(p, time.Now(), a.lossBound())
		next = a.restart(place, p.name)
	}
	a.mu.Lock()
	a.applied[kind]++
	a.mu.Unlock()
	if next != nil && !a.waitJoined(next) {
		a.violate("agent %s: not joined %v after its fate %s:\n%s", next.name, joinBound, kind, tail(next.log))
	}
}

// restart starts an agent named name at place.
func (a *agents) restart(place int, name string) *agentProc {
	p, err := a.start(name)
	if err != nil {
		a.violate("%v", err)
		return nil
	}
	a.procs[place] = p
	return p
}

func (a *agents) lost(d time.Duration) {
	if d >= 0 {
		a.mu.Lock()
		a.losses = append(a.losses, d)
		a.mu.Unlock()
	}
}

// stop ends every agent with SIGTERM (SIGKILL past the drain timeout and
// a margin), frozen ones included, and reports those that did not exit 0.
func (a *agents) stop() {
	var live []*agentProc
	for _, p := range a.all {
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		live = append(live, p)
	}
	for _, p := range live {
		select {
		case <-p.done:
			if p.err != nil {
				a.violate("agent %s: after SIGTERM at the end: %v, want exit status 0:\n%s", p.name, p.err, tail(p.log))
			}
		case <-time.After(agentDrain + 5*time.Second):
			a.violate("agent %s: still running %v after SIGTERM at the end:\n%s", p.name, agentDrain+5*time.Second, tail(p.log))
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// tail returns the last lines of an agent's log, for a report.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// report adds the agents' violations and numbers to rep.
func (a *agents) report(rep *Report) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rep.Violations = append(rep.Violations, a.bad...)
	rep.AgentFates = a.applied
	rep.AgentsStarted = len(a.all)
	for _, d := range a.losses {
		rep.LossMax = max(rep.LossMax, d)
		rep.LossMean += d / time.Duration(len(a.losses))
	}
}

// fateKinds are the agent fates applied in turn.
func (r *run) fateKinds() []string {
	if len(r.cfg.AgentFateKinds) == 0 {
		return AgentFates
	}
	return r.cfg.AgentFateKinds
}
