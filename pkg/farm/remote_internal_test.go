package farm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/internal/testutil"
)

func remoteTestLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testLogWriter{t}})
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// A host that loses an agent and sees it again with the same session (the
// agent was never disconnected: the host only missed its heartbeats) makes
// a new agentLink with that session. The old link's sender publishes
// Lost(session) whenever it gets to it; if that is after the new link's
// first calls (here: the old sender is still busy publishing, which
// sendMu stands for), the agent drops the host's calls of the new link
// too, discards their answers, and the host waits for them forever: the
// new link is alive and beats.
func TestRejoinWithSameSessionKeepsNewCalls(t *testing.T) {
	bin := testutil.MustBuild(t, testutil.Worker)
	host, err := New(Config{Remote: &RemoteConfig{Listen: "127.0.0.1:0", Heartbeat: 50 * time.Millisecond}, Logger: remoteTestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Kill()
	actx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeAgent(actx, AgentConfig{
			Farm: Config{Path: bin, Workers: 1, Logger: remoteTestLogger(t)},
			URL:  host.URL(), Name: "a1", Heartbeat: 50 * time.Millisecond,
		})
	}()
	defer func() { stop(); <-served }()
	if err := host.WaitAgents(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	h := host.remote

	host.mu.Lock()
	var old *agentLink
	for _, l := range h.agents {
		old = l
	}
	host.mu.Unlock()

	// The old link's sender is busy publishing (a big batch, a slow
	// socket): it holds sendMu when the link is lost.
	old.sendMu.Lock()
	old.wake <- struct{}{}
	time.Sleep(20 * time.Millisecond) // the sender now waits for sendMu in publish

	host.mu.Lock()
	h.loseLocked(old, errors.New("heartbeats missed"))
	host.mu.Unlock()
	// The agent beats again (same session): the host joins it anew.
	if err := host.WaitAgents(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	host.mu.Lock()
	var cur *agentLink
	for _, l := range h.agents {
		cur = l
	}
	host.mu.Unlock()
	if cur == old || cur.session != old.session {
		t.Fatalf("want a new link with the same session: old %p/%d, new %p/%d", old, old.session, cur, cur.session)
	}

	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fu := host.Go(c, "sleep", 500)
	testutil.Eventually(t, 5*time.Second, "the call is sent", func() bool { return host.Stats().InFlight == 1 })
	old.sendMu.Unlock() // the old sender finishes, then says Lost(session)

	if _, err := fu.Result(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call of the new link never got its answer: %v", err)
	} else if err != nil {
		t.Logf("the call failed (acceptable, it was not lost): %v", err)
	}
}

// rawHost speaks the pool's protocol to one agent by hand, as host h1.
type rawHost struct {
	t       *testing.T
	nc      *nats.Conn
	subj    remote.Subjects
	a       remotepb.Announce
	replies *nats.Subscription
}

// newRawHost connects to url and waits for an agent's announcement.
func newRawHost(t *testing.T, url string) *rawHost {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h := &rawHost{t: t, nc: nc}
	h.subj, _ = remote.PoolSubjects(remote.DefaultPool)
	announces, _ := nc.SubscribeSync(h.subj.Agents)
	h.replies, _ = nc.SubscribeSync(h.subj.Host("h1"))
	_ = nc.Publish(h.subj.Discover, nil)
	m, err := announces.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(m.Data, &h.a); err != nil {
		t.Fatal(err)
	}
	return h
}

// send publishes one message of calls and cancels to the agent.
func (h *rawHost) send(calls []remote.Call, cancels ...uint64) {
	h.t.Helper()
	var b []byte
	for i := range calls {
		b = remote.AppendCall(b, &calls[i])
	}
	for _, id := range cancels {
		b = remote.AppendCancel(b, id)
	}
	b = remote.AppendBatchTail(b, "h1", h.a.Session, 1, time.Second, 1<<20, false)
	if err := h.nc.PublishRequest(h.subj.Agent(h.a.Agent), h.subj.Host("h1"), b); err != nil {
		h.t.Fatal(err)
	}
}

// answers waits for n answers, by call id; a second answer to a call
// fails the test.
func (h *rawHost) answers(n int) map[uint64]remote.Reply {
	h.t.Helper()
	got := map[uint64]remote.Reply{}
	for len(got) < n {
		m, err := h.replies.NextMsg(10 * time.Second)
		if err != nil {
			h.t.Fatalf("answers %v: %v", got, err)
		}
		_, rs, err := remote.DecodeReplies(m.Data, nil)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, r := range rs {
			if _, dup := got[r.ID]; dup {
				h.t.Fatalf("call %d answered twice", r.ID)
			}
			got[r.ID] = r
		}
	}
	return got
}

// A message whose calls the agent takes only in part (one names a slot it
// does not have) runs each of the others with its own method and
// arguments.
func TestAgentBatchInPart(t *testing.T) {
	srv := testServer(t)
	testAgent(t, srv.ClientURL(), "a1")
	h := newRawHost(t, srv.ClientURL())
	h.send([]remote.Call{
		{ID: 1, Method: "add", Serializer: "json", Args: [][]byte{[]byte("1"), []byte("1"), []byte("1")}, Slot: 7},
		{ID: 2, Method: "add", Serializer: "json", Args: [][]byte{[]byte("1"), []byte("2"), []byte("3")}},
	})
	got := h.answers(2)
	if r := got[1]; r.Failure == nil || !strings.Contains(r.Failure.Message, "no slot 7") {
		t.Errorf("call 1: %+v, want refused: no slot 7", r)
	}
	if r := got[2]; r.Failure != nil || r.Error != nil || string(r.Result) != "6" {
		t.Errorf("call 2: %+v, want 6", r)
	}
}

// The agent reuses the state of answered calls for the next ones: each
// call of later messages gets its own answer, and a cancel naming a call
// answered already stops nothing (not the call that took its place).
func TestAgentReusesAnsweredCalls(t *testing.T) {
	srv := testServer(t)
	testAgent(t, srv.ClientURL(), "a1")
	h := newRawHost(t, srv.ClientURL())
	id := uint64(0)
	for round := range 4 {
		calls := make([]remote.Call, 40)
		for i := range calls {
			id++
			calls[i] = remote.Call{ID: id, Method: "add", Serializer: "json",
				Args: [][]byte{[]byte(fmt.Sprint(id)), []byte("1"), []byte("0")}}
		}
		h.send(calls)
		for cid, r := range h.answers(len(calls)) {
			if r.Failure != nil || r.Error != nil || string(r.Result) != fmt.Sprint(cid+1) {
				t.Fatalf("round %d, call %d: %+v, want %d", round, cid, r, cid+1)
			}
		}
	}
	// Cancels of answered calls, in the message of new calls that reuse
	// their state.
	calls := []remote.Call{
		{ID: id + 1, Method: "sleep", Serializer: "json", Args: [][]byte{[]byte("50")}},
		{ID: id + 2, Method: "sleep", Serializer: "json", Args: [][]byte{[]byte("50")}},
	}
	h.send(calls, id, id-1, 1)
	for cid, r := range h.answers(2) {
		if r.Failure != nil || r.Error != nil || r.PID == 0 || string(r.Result) != fmt.Sprint(r.PID) {
			t.Errorf("call %d: %+v, want the worker's pid: a cancel of an answered call reached it", cid, r)
		}
	}
}
