package clustertest

import (
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// Broadcast reaches every worker of every agent and the local ones, each
// reply attributed to its agent, slot and pid.
func TestBroadcastAcrossAgents(t *testing.T) {
	f := newHost(t, farm.Config{Path: workerBin, Workers: 1})
	a1 := startAgent(t, "a1", f.URL(), nil)
	a2 := startAgent(t, "a2", f.URL(), nil, "--workers", "3")
	waitJoined(t, f, 2, a1)
	waitJoined(t, f, 3, a2)
	replies, err := f.BroadcastMethod(ctx(t), "pid")
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 6 {
		t.Fatalf("%d replies, want 1 local + 2 + 3", len(replies))
	}
	per := map[string]int{}
	pids := map[int]bool{}
	slots := map[int]bool{}
	for _, r := range replies {
		var pid int
		if err := r.Result.Decode(&pid); err != nil {
			t.Fatal(err)
		}
		if pid != r.PID {
			t.Errorf("slot %d (agent %q): answered by pid %d, attributed to %d", r.Slot, r.Agent, pid, r.PID)
		}
		per[r.Agent]++
		pids[pid] = true
		slots[r.Slot] = true
	}
	if per[""] != 1 || per["a1"] != 2 || per["a2"] != 3 {
		t.Errorf("replies per agent: %v", per)
	}
	if len(pids) != 6 || len(slots) != 6 {
		t.Errorf("pids %v, slots %v: want 6 distinct", pids, slots)
	}
}

// Local workers and agents serve one farm's calls together.
func TestMixedLocalAndRemote(t *testing.T) {
	f := newHost(t, farm.Config{Path: workerBin, Workers: 1, MaxConcurrentCallsPerWorker: 2})
	a1 := startAgent(t, "a1", f.URL(), nil, "--max-per-worker", "2")
	waitJoined(t, f, 2, a1)
	futures := make([]*farm.Future, 60)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "sleep", 5)
	}
	for _, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
	local, remote := 0, 0
	for _, w := range f.Stats().Workers {
		if w.Agent == "" {
			local += w.Answered
		} else {
			remote += w.Answered
		}
	}
	if local == 0 || remote == 0 {
		t.Errorf("local workers answered %d, the agent's %d: want both", local, remote)
	}
}
