package farm

import (
	"context"
	"errors"
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

// A message whose calls the agent takes only in part (one names a slot it
// does not have) runs each of the others with its own method and
// arguments.
func TestAgentBatchInPart(t *testing.T) {
	srv := testServer(t)
	testAgent(t, srv.ClientURL(), "a1")
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subj, _ := remote.PoolSubjects(remote.DefaultPool)
	announces, _ := nc.SubscribeSync(subj.Agents)
	replies, _ := nc.SubscribeSync(subj.Host("h1"))
	_ = nc.Publish(subj.Discover, nil)
	m, err := announces.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var a remotepb.Announce
	if err := proto.Unmarshal(m.Data, &a); err != nil {
		t.Fatal(err)
	}
	var b []byte
	b = remote.AppendCall(b, &remote.Call{ID: 1, Method: "add", Serializer: "json", Args: [][]byte{[]byte("1"), []byte("1"), []byte("1")}, Slot: 7})
	b = remote.AppendCall(b, &remote.Call{ID: 2, Method: "add", Serializer: "json", Args: [][]byte{[]byte("1"), []byte("2"), []byte("3")}})
	b = remote.AppendBatchTail(b, "h1", a.Session, 1, time.Second, 1<<20, false)
	if err := nc.PublishRequest(subj.Agent(a.Agent), subj.Host("h1"), b); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]remote.Reply{}
	for len(got) < 2 {
		m, err := replies.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("answers %v: %v", got, err)
		}
		_, rs, err := remote.DecodeReplies(m.Data, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			got[r.ID] = r
		}
	}
	if r := got[1]; r.Failure == nil || !strings.Contains(r.Failure.Message, "no slot 7") {
		t.Errorf("call 1: %+v, want refused: no slot 7", r)
	}
	if r := got[2]; r.Failure != nil || r.Error != nil || string(r.Result) != "6" {
		t.Errorf("call 2: %+v, want 6", r)
	}
}
