package clustertest

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// A worker of an agent that crashes fails its call with a
// *WorkerExitError naming the agent and the exit status; the call is
// retried as a local crash is, and the hosts learn the replacement's pid.
func TestAgentWorkerCrash(t *testing.T) {
	f := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1")
	waitJoined(t, f, 1, a1)
	before := agentWorkers(f, "a1")[0].PID

	_, err := f.With(farm.CallOptions{MaxRetries: farm.NoRetries}).RunMethod(ctx(t), "exit", 3)
	var we *farm.WorkerExitError
	if !errors.As(err, &we) || we.Agent != "a1" || we.Status.Code != 3 || we.PID != before {
		t.Fatalf("got %v (%#v), want a *WorkerExitError of agent a1, pid %d, exit status 3", err, we, before)
	}
	testutil.Eventually(t, 10*time.Second, "the host learns the replacement's pid", func() bool {
		ws := agentWorkers(f, "a1")
		return len(ws) == 1 && ws[0].PID != before && ws[0].PID != 0
	})

	// With retries, the call that crashed its worker once runs again.
	marker := filepath.Join(t.TempDir(), "crashed")
	var pid int
	pid, err = farm.Call[int](ctx(t), f, "crashTimes", marker, 1)
	if err != nil || pid == 0 {
		t.Fatalf("got %d, %v", pid, err)
	}
	if st := f.Stats(); st.Retried != 1 {
		t.Errorf("%d retries, want 1", st.Retried)
	}
}

// The events of a call whose agent's worker crashed name the processes
// that ran its attempts, whatever the agent's announcements said of the
// slot meanwhile (no worker while it restarts).
func TestAgentWorkerCrashEventsNameProcesses(t *testing.T) {
	var mu sync.Mutex
	var events []farm.Event
	f := newHost(t, farm.Config{OnEvent: func(e farm.Event) {
		if e.Type == farm.EventRetry || e.Type == farm.EventMessage {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	}})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1")
	waitJoined(t, f, 1, a1)
	first := agentWorkers(f, "a1")[0].PID
	marker := filepath.Join(t.TempDir(), "crashed")
	pid, err := farm.Call[int](ctx(t), f, "crashTimes", marker, 1)
	if err != nil || pid == 0 || pid == first {
		t.Fatalf("got pid %d (first worker %d), %v", pid, first, err)
	}
	testutil.Eventually(t, 5*time.Second, "the retry and the answer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if e := events[0]; e.Type != farm.EventRetry || e.PID != first || e.Agent != "a1" {
		t.Errorf("first event %v of agent %q, pid %d; want the retry, named by the crashed worker %d of a1", e.Type, e.Agent, e.PID, first)
	}
	if e := events[1]; e.Type != farm.EventMessage || e.PID != pid || e.Err != nil {
		t.Errorf("second event %v, pid %d, err %v; want the answer, named by the worker %d that ran it", e.Type, e.PID, e.Err, pid)
	}
}
