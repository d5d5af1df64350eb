package clustertest

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// runAndLose runs n calls of record over two agents and applies lose to
// the first once it has answered some; every call must get exactly one
// answer, and only the calls in flight on the lost agent may have started
// twice.
func runAndLose(t *testing.T, lose func(a *agent)) (*farm.Farm, *agent, *agent) {
	t.Helper()
	f := newHost(t, farm.Config{MaxRetries: 5})
	a1 := startAgent(t, "a1", f.URL(), nil, "--max-per-worker", "2")
	a2 := startAgent(t, "a2", f.URL(), nil, "--max-per-worker", "2")
	waitJoined(t, f, 2, a1, a2)
	j := newJournal(t)
	const n = 300
	futures := make([]*farm.Future, n)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "record", string(j), i, 10)
	}
	testutil.Eventually(t, 10*time.Second, "a1 answered calls", func() bool {
		answered := 0
		for _, w := range f.Stats().Workers {
			if w.Agent == "a1" {
				answered += w.Answered
			}
		}
		return answered >= 10
	})
	lost := time.Now()
	lose(a1)
	waitLeft(t, f, "a1", 5*time.Second)
	if d := time.Since(lost); d > 2*time.Second {
		t.Errorf("the lost agent was detected after %v, want within 3 heartbeats (%v) and a margin", d, 3*hb)
	}
	for i, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	starts := j.count(t, "start")
	twice := 0
	for i := range n {
		switch starts[i] {
		case 1:
		case 0:
			t.Errorf("call %d answered but never started", i)
		default:
			twice++
		}
	}
	// a1 runs at most 2 workers × (2 + 1 prefetched) calls at a time.
	if twice > 6 {
		t.Errorf("%d calls started more than once; only the ≤ 6 in flight on the lost agent may", twice)
	}
	if st := f.Stats(); st.Succeeded != n || st.Retried == 0 {
		t.Errorf("%d calls succeeded, %d retried; want %d, and the lost agent's retried", st.Succeeded, st.Retried, n)
	}
	return f, a1, a2
}

// An agent killed mid-call: its calls are retried on the other agent,
// nothing is lost, and no call that had not started runs twice.
func TestAgentKilled(t *testing.T) {
	f, _, a2 := runAndLose(t, func(a *agent) { a.signal(t, syscall.SIGKILL) })
	if len(agentWorkers(f, a2.name)) != 2 {
		t.Errorf("the other agent's workers: %v", f.Stats().Workers)
	}
}

// An agent frozen mid-call is lost within its heartbeats; its calls run
// elsewhere; once thawed it joins again and takes calls.
func TestAgentFrozen(t *testing.T) {
	f, a1, _ := runAndLose(t, func(a *agent) { a.signal(t, syscall.SIGSTOP) })
	a1.signal(t, syscall.SIGCONT)
	waitJoined(t, f, 2, a1)
	testutil.Eventually(t, 10*time.Second, "the thawed agent answers calls", func() bool {
		// Enough calls at once for every worker to get some.
		futures := make([]*farm.Future, 20)
		for i := range futures {
			futures[i] = f.Go(ctx(t), "sleep", 5)
		}
		for _, fu := range futures {
			if _, err := fu.Result(); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range f.Stats().Workers {
			if w.Agent == "a1" && w.Answered > 0 {
				return true
			}
		}
		return false
	})
}

// SIGTERM drains an agent: it answers the calls it runs, takes no new
// ones, and exits 0.
func TestAgentDrains(t *testing.T) {
	f := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", f.URL(), nil)
	waitJoined(t, f, 2, a1)
	j := newJournal(t)
	futures := make([]*farm.Future, 4)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "record", string(j), i, 500)
	}
	testutil.Eventually(t, 10*time.Second, "the calls started", func() bool { return len(j.count(t, "start")) == 4 })
	a1.signal(t, syscall.SIGTERM)
	for i, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	select {
	case <-a1.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not exit after its drain")
	}
	if a1.err != nil {
		t.Errorf("agent exit: %v, want 0\n%s", a1.err, a1.out.String())
	}
	if st := f.Stats(); st.Retried != 0 || st.Succeeded != 4 {
		t.Errorf("%d retried, %d succeeded; want 0, 4", st.Retried, st.Succeeded)
	}
	waitLeft(t, f, "a1", 5*time.Second)
}

// Kill of the host settles every call at once, and the agents cancel the
// functions they run for it.
func TestHostKill(t *testing.T) {
	f := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", f.URL(), nil)
	a2 := startAgent(t, "a2", f.URL(), nil)
	waitJoined(t, f, 2, a1, a2)
	j := newJournal(t)
	futures := make([]*farm.Future, 8)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "record", string(j), i, -1)
	}
	testutil.Eventually(t, 10*time.Second, "the calls started", func() bool { return len(j.count(t, "start")) == 8 })
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Kill took %v", d)
	}
	for i, fu := range futures {
		if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
			t.Errorf("call %d: %v, want ErrFarmKilled", i, err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the agents cancelled the host's calls", func() bool { return len(j.count(t, "cancel")) == 8 })
}

// A host killed right after it sent its calls: its goodbye may reach an
// agent before the calls do (they come on another subscription), and the
// agent drops them too, without waiting for the host's heartbeats to stop
// (three of them, 3 s by default).
func TestHostKillRightAfterSend(t *testing.T) {
	srv := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", srv.URL(), nil, "--max-per-worker", "4")
	waitJoined(t, srv, 2, a1)
	for round := range 4 {
		f, err := farm.New(farm.Config{Logger: testLogger(t), Remote: &farm.RemoteConfig{URL: srv.URL()}})
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "the agent's slots", func() bool { return len(agentWorkers(f, "a1")) == 2 })
		j := newJournal(t)
		for i := range 8 {
			f.Go(ctx(t), "record", string(j), i, -1)
		}
		f.Kill()
		// The agent's 8 slots are free again at once: 8 calls of another
		// host run on it well within the 3 s a silent host takes.
		c, cancel := context.WithTimeout(ctx(t), 1500*time.Millisecond)
		futures := make([]*farm.Future, 8)
		for i := range futures {
			futures[i] = srv.Go(c, "record", string(newJournal(t)), i, 0)
		}
		for i, fu := range futures {
			if _, err := fu.Result(); err != nil {
				t.Errorf("round %d: call %d of the live host: %v (the killed host's calls still hold the agent)", round, i, err)
			}
		}
		cancel()
		if s, c := len(j.count(t, "start")), len(j.count(t, "cancel")); s != c {
			t.Errorf("round %d: %d of the killed host's calls started, %d cancelled", round, s, c)
		}
	}
}
