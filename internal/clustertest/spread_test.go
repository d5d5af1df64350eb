package clustertest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"

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

// WaitAgents waits for agents that learn the address from Farm.URL;
// MinAgents, which New waits for, needs an address known beforehand.
func TestWaitAgents(t *testing.T) {
	f := newHost(t, farm.Config{})
	startAgent(t, "a1", f.URL(), nil)
	if err := f.WaitAgents(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
	defer cancel()
	if err := f.WaitAgents(c, 2); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 of 2 agents") {
		t.Fatalf("got %v", err)
	}
	_, err := farm.New(farm.Config{Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0", MinAgents: 1}, Logger: testLogger(t)})
	if !errors.Is(err, farm.ErrInvalidConfig) || !strings.Contains(err.Error(), "WaitAgents") {
		t.Fatalf("MinAgents with port 0: got %v", err)
	}
	// With an address known beforehand, New waits for them.
	addr := freeAddr(t)
	done := make(chan *farm.Farm)
	go func() {
		g, err := farm.New(farm.Config{Remote: &farm.RemoteConfig{Listen: addr, MinAgents: 1, Heartbeat: hb}, Logger: testLogger(t)})
		if err != nil {
			t.Error(err)
		}
		done <- g
	}()
	testutil.Eventually(t, 10*time.Second, "the server listens", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	startAgent(t, "a2", "nats://"+addr, nil)
	if g := <-done; g != nil {
		if n := len(agentWorkers(g, "a2")); n != 2 {
			t.Errorf("New returned with %d workers of the agent", n)
		}
		g.Kill()
	}
}
