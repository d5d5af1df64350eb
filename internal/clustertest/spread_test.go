package clustertest

import (
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// Calls are spread over the agents, each answered by a worker of one.
func TestCallsSpreadOverAgents(t *testing.T) {
	var mu sync.Mutex
	online := map[string]int{}
	f := newHost(t, farm.Config{OnEvent: func(e farm.Event) {
		if e.Type == farm.EventOnline {
			mu.Lock()
			online[e.Agent]++
			mu.Unlock()
		}
	}})
	a1 := startAgent(t, "a1", f.URL(), nil)
	a2 := startAgent(t, "a2", f.URL(), nil)
	waitJoined(t, f, 2, a1, a2)
	const n = 400
	futures := make([]*farm.Future, n)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "sleep", 2)
	}
	pids := map[int]int{}
	for i, fu := range futures {
		r, err := fu.Result()
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		var pid int
		if err := r.Decode(&pid); err != nil {
			t.Fatal(err)
		}
		pids[pid]++
	}
	if len(pids) != 4 {
		t.Fatalf("calls ran on %d worker processes, want the 4 of the 2 agents: %v", len(pids), pids)
	}
	st := f.Stats()
	if st.Succeeded != n || st.Retried != 0 {
		t.Fatalf("stats: %d succeeded, %d retried; want %d, 0", st.Succeeded, st.Retried, n)
	}
	per := map[string]int{}
	for _, w := range st.Workers {
		per[w.Agent] += w.Answered
	}
	for _, a := range []string{"a1", "a2"} {
		if per[a] < n/4 {
			t.Errorf("agent %s answered %d of %d calls: %v", a, per[a], n, per)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if online["a1"] != 2 || online["a2"] != 2 {
		t.Errorf("online events per agent: %v", online)
	}
}

// serve's flags fall back to their environment variables.
func TestAgentFlagsFromEnvironment(t *testing.T) {
	f := newHost(t, farm.Config{})
	a := startAgent(t, "env", f.URL(), func(name string, args ...string) *exec.Cmd {
		// Without --workers: the variable gives it.
		var kept []string
		for i := 0; i < len(args); i++ {
			if args[i] == "--workers" {
				i++
				continue
			}
			kept = append(kept, args[i])
		}
		c := exec.Command(name, kept...)
		c.Env = append(os.Environ(), "WORKESTRATOR_WORKERS=3")
		return c
	})
	waitJoined(t, f, 3, a)
}
