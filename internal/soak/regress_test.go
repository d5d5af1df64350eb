package soak_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/soak"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// Regressions the soak found, each with real agents or workers.

// newRemoteHost makes a farm with no local worker, embedding a NATS server
// on loopback, with heartbeats every hb.
func newRemoteHost(t *testing.T, cfg farm.Config, hb time.Duration) *farm.Farm {
	t.Helper()
	cfg.Remote = &farm.RemoteConfig{Listen: "127.0.0.1:0", Heartbeat: hb}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: os.Stderr})
	f, err := farm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Kill)
	return f
}

// startAgent runs `workestrator serve` of the chaos worker with one worker
// against url, and waits until it joined f.
func startAgent(t *testing.T, f *farm.Farm, url, name string, hb time.Duration) {
	t.Helper()
	cmd := exec.Command(agentBin, "serve", "--nats", url, "--name", name, "--workers", "1",
		"--heartbeat", hb.String(), "--log-level", "error", chaosWorker)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	testutil.Eventually(t, 20*time.Second, "agent "+name+" joined", func() bool {
		ws := f.Stats().Workers
		return len(ws) == 1 && ws[0].Agent == name && ws[0].State == "online"
	})
}

// gate puts a soak.Gate between agents and f's embedded NATS server.
func gate(t *testing.T, f *farm.Farm) *soak.Gate {
	t.Helper()
	g, err := soak.NewGate(strings.TrimPrefix(f.URL(), "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// inFlight waits until f has n calls in flight on its workers.
func inFlight(t *testing.T, f *farm.Farm, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "calls in flight", func() bool {
		got := 0
		for _, w := range f.Stats().Workers {
			got += w.InFlight
		}
		return got == n
	})
	time.Sleep(50 * time.Millisecond) // and at the agent
}

// BUG: an agent that misses its host's heartbeats (HeartbeatMisses of
// them) drops the host's calls, cancelling them without an answer
// (agent_relay.go, dropHosts: h.gone, replies dropped), while the host,
// which still hears the agent's heartbeats, keeps the agent and waits for
// the answers forever. Here the link toward the agent is held for 1 s (a
// one-way partition; with the agent's heartbeat longer than the host's, a
// freeze or a two-way partition of the right length does the same). A
// call without a Timeout then never ends; with one, it times out and its
// abandoned attempt stays on the worker (WorkerStats.Abandoned), which
// loses a place of its capacity for good.
func TestAgentAnswersCallsOfSilentHost(t *testing.T) {
	const hb = 100 * time.Millisecond
	f := newRemoteHost(t, farm.Config{}, hb)
	g := gate(t, f)
	startAgent(t, f, "nats://"+g.Addr(), "b1", hb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fu := f.Go(ctx, "sleep", 1, 1500) // answers 2 after 1.5 s
	inFlight(t, f, 1)
	g.Hold(true, false) // the agent hears nothing; the host hears it
	time.Sleep(10 * hb)
	g.Hold(false, false)
	select {
	case <-fu.Done():
		res, err := fu.Result()
		t.Logf("answered: %s, %v", res.Bytes(), err)
	case <-time.After(10 * time.Second):
		t.Fatalf("the call has no answer 10s after the partition ended: %+v", f.Stats().Workers)
	}
}

// BUG: the retry events and the message events of failed calls do not
// name the agent of the remote worker that ran the attempt (Event.Agent is
// empty; their Slot and WorkerID are set). emitCallLocked fills Agent only
// from c.w, which attemptFailedLocked has cleared; it then copies c.slot,
// c.wid and c.pid but not the agent.
func TestRemoteCallEventsNameAgent(t *testing.T) {
	var mu sync.Mutex
	var evs []farm.Event
	f := newRemoteHost(t, farm.Config{MaxRetries: 1, OnEvent: func(ev farm.Event) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, ev)
	}}, 100*time.Millisecond)
	startAgent(t, f, f.URL(), "b1", 100*time.Millisecond)
	if _, err := f.RunMethod(context.Background(), "chaos", 1, "error"); err == nil {
		t.Fatal("the error fate succeeded")
	}
	f.Kill()
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range evs {
		if (ev.Type == farm.EventRetry || ev.Type == farm.EventMessage) && ev.Agent != "b1" {
			t.Errorf("%s event of call %d, attempt %d, slot %d, worker %d: Agent %q, want b1", ev.Type, ev.CallID, ev.Attempt, ev.Slot, ev.WorkerID, ev.Agent)
		}
	}
}

// BUG: Stats.WorkersHung counts the workers retired because they ignored
// a cancellation, but for an agent's worker, which the farm never retires,
// it counts every abandoned attempt not answered within KillTimeout
// (dispatch.go, abandonedExpired: hung++, then retireLocked, which does
// nothing for a remote worker), and logs "worker ignores cancellation;
// recycling it" each time. Here 3 calls time out on an agent whose link is
// held for 400 ms: WorkersHung is 3, WorkersRecycled 0.
func TestWorkersHungCountsLocalOnly(t *testing.T) {
	const hb = time.Second // nobody is lost in 400 ms
	f := newRemoteHost(t, farm.Config{Timeout: 100 * time.Millisecond, KillTimeout: 50 * time.Millisecond, MaxRetries: farm.NoRetries}, hb)
	g := gate(t, f)
	startAgent(t, f, "nats://"+g.Addr(), "b1", hb)
	g.Hold(true, true)
	var fus []*farm.Future
	for i := range 3 {
		fus = append(fus, f.Go(context.Background(), "sleep", i, 2000))
	}
	time.Sleep(400 * time.Millisecond)
	g.Hold(false, false)
	for _, fu := range fus {
		if _, err := fu.Result(); err == nil {
			t.Fatal("a call did not time out")
		}
	}
	if st := f.Stats(); st.WorkersHung > st.WorkersRecycled {
		t.Errorf("WorkersHung %d, WorkersRecycled %d: hung workers are a part of those recycled", st.WorkersHung, st.WorkersRecycled)
	}
}

// BUG: a retiring worker (TTL, Reload, MaxWorkerMemory, idle) whose last
// live call is abandoned (it timed out, or its caller cancelled it) and
// never answers is never stopped: abandonLocked does not check whether the
// worker may now stop (maybeStopLocked runs on answers only), and
// abandonedExpired recycles only online workers. Its process lives on,
// holding the call, until Kill. Here the worker retires at its TTL of 1
// with the call, which hangs ignoring its context, in flight.
func TestRetiringWorkerWithHungCallStops(t *testing.T) {
	f := newReproFarm(t, farm.Config{Workers: 1, TTL: 1, Timeout: 200 * time.Millisecond,
		KillTimeout: 100 * time.Millisecond, MaxRetries: farm.NoRetries})
	pid := f.Stats().Workers[0].PID
	if _, err := f.RunMethod(context.Background(), "chaos", 0, "hang"); !errors.Is(err, farm.ErrTimeout) {
		t.Fatalf("hang: %v, want a timeout", err)
	}
	if !testutil.WaitFor(3*time.Second, func() bool { return !slices.Contains(testutil.Children(os.Getpid()), pid) }) {
		t.Fatalf("the retired worker (pid %d) is still running 3s after its last call was abandoned: %+v", pid, f.Stats().Workers)
	}
}
