package clustertest

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// A broadcast whose agent is lost while running it must end (with the
// agent-lost error for that slot), not wait for another agent to take the
// freed slot.
func TestBroadcastAgentLost(t *testing.T) {
	f := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1")
	waitJoined(t, f, 1, a1)
	c, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.BroadcastMethod(c, "sleep", 2000)
		done <- err
	}()
	testutil.Eventually(t, 10*time.Second, "the broadcast runs", func() bool { return f.Stats().InFlight == 1 })
	a1.signal(t, syscall.SIGKILL)
	err := <-done
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the broadcast hung until its context ended: %v", err)
	}
	if !errors.Is(err, farm.ErrAgentLost) {
		t.Fatalf("broadcast: %v, want ErrAgentLost", err)
	}
}

// A broadcast call of a lost agent's slot that comes back from a retry
// backoff after the loss fails with ErrAgentLost: it neither waits for the
// next agent to take the slot nor runs on that agent's worker.
func TestBroadcastAgentLostDuringBackoff(t *testing.T) {
	f := newHost(t, farm.Config{RetryBackoff: 500 * time.Millisecond})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1")
	waitJoined(t, f, 1, a1)
	b := startAgent(t, "b", f.URL(), nil, "--workers", "1")
	waitJoined(t, f, 1, b)
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		replies []farm.WorkerReply
		err     error
	}
	done := make(chan result, 1)
	go func() {
		r, err := f.BroadcastMethod(c, "sleep", 1500)
		done <- result{r, err}
	}()
	testutil.Eventually(t, 10*time.Second, "the broadcast runs", func() bool { return f.Stats().InFlight == 2 })
	b.signal(t, syscall.SIGKILL)
	waitLeft(t, f, "b", 10*time.Second)
	// An agent that joins now takes b's freed slot.
	c2 := startAgent(t, "c", f.URL(), nil, "--workers", "1")
	waitJoined(t, f, 1, a1, c2)
	r := <-done
	if errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("the broadcast hung until its context ended: %v", r.err)
	}
	if !errors.Is(r.err, farm.ErrAgentLost) {
		t.Fatalf("broadcast: %v, want ErrAgentLost", r.err)
	}
	for _, rep := range r.replies {
		if rep.Agent == "b" && rep.Err == nil {
			t.Fatalf("a reply of b's slot succeeded after b was lost: %+v", rep)
		}
	}
}

// A broadcast call queued for an agent that then drains fails with
// ErrAgentLost, saying so.
func TestBroadcastQueuedOnDrainingAgent(t *testing.T) {
	f := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1", "--max-per-worker", "1", "--prefetch", "-1")
	waitJoined(t, f, 1, a1)
	busy := f.Go(ctx(t), "sleep", 1000)
	testutil.Eventually(t, 10*time.Second, "the sleep runs", func() bool { return f.Stats().InFlight == 1 })
	done := make(chan error, 1)
	go func() {
		_, err := f.BroadcastMethod(ctx(t), "pid")
		done <- err
	}()
	testutil.Eventually(t, 10*time.Second, "the broadcast queued", func() bool { return f.Stats().Queued == 1 })
	a1.signal(t, syscall.SIGTERM)
	err := <-done
	if !errors.Is(err, farm.ErrAgentLost) || !strings.Contains(err.Error(), "draining") {
		t.Fatalf("broadcast: %v, want ErrAgentLost saying the agent drains", err)
	}
	if _, err := busy.Result(); err != nil {
		t.Fatalf("the call the agent drained: %v", err)
	}
}

// The agent's own --timeout bounds the calls it runs (its --help: "bound of
// each call on this agent, besides the budget its host sends").
func TestAgentTimeoutFlag(t *testing.T) {
	f := newHost(t, farm.Config{MaxRetries: farm.NoRetries})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "1", "--timeout", "200ms")
	waitJoined(t, f, 1, a1)
	start := time.Now()
	_, err := f.RunMethod(ctx(t), "sleep", 1500)
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("a 1.5 s call on an agent with --timeout 200ms: %v after %v", err, time.Since(start))
	}
	// A timeout, as a local one, not the loss of a healthy agent.
	var te *farm.TimeoutError
	if !errors.As(err, &te) || te.Timeout != 200*time.Millisecond || !errors.Is(err, farm.ErrTimeout) || errors.Is(err, farm.ErrAgentLost) {
		t.Fatalf("the agent's timeout: %v (%T), want a *TimeoutError of 200ms, not ErrAgentLost", err, err)
	}
	if st := f.Stats(); st.TimedOut != 1 {
		t.Errorf("TimedOut = %d, want 1", st.TimedOut)
	}
}

// One announcement (any client that may publish on the pool's subjects)
// makes the host create a slot and a worker per announced slot, unbounded
// (farm.MaxWorkers is 8192 for local workers); every dispatch then scans
// them all under the farm's lock.
func TestHugeAnnouncementRefused(t *testing.T) {
	f := newHost(t, farm.Config{})
	nc, err := nats.Connect(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 100_000
	a := &remotepb.Announce{Agent: "evil", Session: 1, Name: "evil", PerWorker: 1 << 30, HeartbeatNanos: int64(1000 * time.Hour)}
	for i := range n {
		a.Slots = append(a.Slots, &remotepb.Slot{Index: int32(i), Pid: 1})
	}
	b, _ := proto.Marshal(a)
	if err := nc.Publish("workestrator.default.agents", b); err != nil {
		t.Fatal(err)
	}
	// Announcements are handled in order: once a later one joined, the
	// first was handled.
	probe, _ := proto.Marshal(&remotepb.Announce{Agent: "probe", Session: 1, Name: "probe", PerWorker: 1,
		HeartbeatNanos: int64(time.Minute), Slots: []*remotepb.Slot{{Pid: 1}}})
	if err := nc.Publish("workestrator.default.agents", probe); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the probe joined", func() bool { return len(agentWorkers(f, "probe")) == 1 })
	if got := len(f.Stats().Workers); got != 1 {
		t.Fatalf("one %d-byte announcement made %d remote workers (capacity %d each, heartbeat 1000h)", len(b), got-1, 1<<30)
	}
}
