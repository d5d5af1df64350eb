package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

const (
	// heartbeat is the period of the heartbeats between the farm and its
	// agents: a frozen agent is lost after three of them.
	heartbeat = 200 * time.Millisecond
	// joinTimeout bounds the wait for the agents to start and join.
	joinTimeout = 30 * time.Second
)

// agents are the child processes of the example that serve its farm's
// pool, and the farm.
type agents struct {
	farm   *farm.Farm
	list   []*agent
	cancel context.CancelCauseFunc
	exit   chan struct{} // gets a token when an agent ends

	// mu guards ended, stopping, and list while the agents start; list
	// does not change after.
	mu       sync.Mutex
	ended    int
	stopping bool
}

// agent is one `workestrator serve` process.
type agent struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // Wait's error, set before done is closed
}

// startAgents makes a farm without local workers that embeds a NATS
// server, starts n agents of workers workers each (serve is the
// workestrator binary, worker the worker's), and waits for them to join.
// The tally receives the farm's events. Once every agent has ended, cancel
// is called. On success the caller drains the agents once the job is
// done, stops the farm, then calls stop.
func startAgents(ctx context.Context, cancel context.CancelCauseFunc, serve, worker string, n, workers int, t *tally) (*agents, error) {
	joined := make(chan struct{}, 1)
	f, err := farm.New(farm.Config{
		// A chunk loses at most one attempt on each lost agent, and the job
		// can finish as long as one agent is left: n-1 retries, on top of
		// the default's for other failures.
		MaxRetries: farm.DefaultMaxRetries + n - 1,
		// MinAgents cannot be used here: New would wait for agents that
		// cannot know the server's port before New returns. The wait is
		// waitJoined's.
		Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0", Heartbeat: heartbeat},
		OnEvent: func(ev farm.Event) {
			t.event(ev)
			if ev.Type == farm.EventOnline && ev.Agent != "" {
				select {
				case joined <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		return nil, err
	}
	a := &agents{farm: f, cancel: cancel, exit: make(chan struct{}, n)}
	for i := range n {
		if err := a.start(fmt.Sprintf("agent-%d", i+1), serve, worker, workers); err != nil {
			f.Kill()
			a.stop()
			return nil, err
		}
	}
	if err := a.waitJoined(ctx, joined, workers); err != nil {
		f.Kill()
		a.stop()
		return nil, err
	}
	return a, nil
}

// start starts an agent process and the goroutine that reaps it.
func (a *agents) start(name, serve, worker string, workers int) error {
	cmd := exec.Command(serve, "serve",
		"--nats", a.farm.URL(), "--name", name,
		"--workers", strconv.Itoa(workers), "--max-per-worker", "1",
		"--heartbeat", heartbeat.String(), "--log-level", "warn",
		worker)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = agentSysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &agent{name: name, cmd: cmd, done: make(chan struct{})}
	a.mu.Lock() // reaped reads its length
	a.list = append(a.list, p)
	a.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		a.reaped(p)
	}()
	return nil
}

// reaped notes that agent p ended; once all have, while the example still
// runs, it cancels the run: no worker is left to run it.
func (a *agents) reaped(p *agent) {
	a.mu.Lock()
	a.ended++
	all, stopping := a.ended == len(a.list), a.stopping
	a.mu.Unlock()
	a.exit <- struct{}{}
	if stopping {
		return
	}
	fmt.Fprintf(os.Stderr, "pi: %s (pid %d) ended: %v\n", p.name, p.cmd.Process.Pid, p.err)
	if all {
		a.cancel(fmt.Errorf("all %d agents ended", len(a.list)))
	}
}

// waitJoined waits until every agent's workers are online in the farm,
// joinTimeout at most; an agent that ends first is an error.
func (a *agents) waitJoined(ctx context.Context, joined <-chan struct{}, workers int) error {
	deadline := time.NewTimer(joinTimeout)
	defer deadline.Stop()
	for {
		online := make(map[string]int)
		for _, w := range a.farm.Stats().Workers {
			if w.Agent != "" && w.State == "online" {
				online[w.Agent]++
			}
		}
		ready := 0
		for _, p := range a.list {
			if online[p.name] == workers {
				ready++
			}
		}
		if ready == len(a.list) {
			return nil
		}
		select {
		case <-joined:
		case <-a.exit:
			for _, p := range a.list {
				select {
				case <-p.done:
					return fmt.Errorf("%s ended before it joined: %v", p.name, p.err)
				default:
				}
			}
		case <-deadline.C:
			return fmt.Errorf("%d of %d agents joined within %v", ready, len(a.list), joinTimeout)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// names lists the agents' names.
func (a *agents) names() string {
	names := make([]string, len(a.list))
	for i, p := range a.list {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

// signal marks the agents as stopping (their ends are not failures) and
// sends each sig; one that has ended already is left alone.
func (a *agents) signal(sig syscall.Signal) {
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	for _, p := range a.list {
		_ = p.cmd.Process.Signal(sig) // os.ErrProcessDone once it has ended
	}
}

// drain asks the agents to stop (SIGTERM: each says goodbye and exits 0)
// and waits for them, 2 s at most; stop kills any left. On a nil *agents
// it does nothing.
func (a *agents) drain() {
	if a == nil {
		return
	}
	a.signal(syscall.SIGTERM)
	deadline := time.After(2 * time.Second)
	for _, p := range a.list {
		select {
		case <-p.done:
		case <-deadline:
			return
		}
	}
}

// stop kills the agents with SIGKILL (which ends a stopped process as
// well) and waits until they are reaped; their workers exit when their
// agent's end of the lifeline closes. On a nil *agents it does nothing.
func (a *agents) stop() {
	if a == nil {
		return
	}
	a.signal(syscall.SIGKILL)
	for _, p := range a.list {
		<-p.done
	}
}
