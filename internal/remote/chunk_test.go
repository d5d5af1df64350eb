package remote

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// chunks publishes data through a Publisher on a server whose max payload
// is max and returns the messages a subscriber got.
func chunks(t *testing.T, maxPayload int32, data []byte) []*nats.Msg {
	t.Helper()
	s, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	nc, err := nats.Connect(s.ClientURL(), nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := NewPublisher(nc, "me").Publish("x", "", data); err != nil {
		t.Fatal(err)
	}
	var ms []*nats.Msg
	for {
		m, err := sub.NextMsg(200 * time.Millisecond)
		if errors.Is(err, nats.ErrTimeout) {
			return ms
		}
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
}

func TestChunkRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 30_000) // 300 kB over 64 kB messages
	ms := chunks(t, 64<<10, data)
	if len(ms) < 5 {
		t.Fatalf("%d messages, want chunks of at most 64 kB", len(ms))
	}
	a := NewAssembler(1 << 20)
	for i, m := range ms {
		got, ok, err := a.Add(m)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i == len(ms)-1) {
			t.Fatalf("chunk %d of %d: complete = %v", i+1, len(ms), ok)
		}
		if ok && !bytes.Equal(got, data) {
			t.Fatal("reassembled message differs")
		}
	}
	// A small message passes as it is, an empty one too.
	for _, d := range [][]byte{[]byte("hi"), nil} {
		got, ok, err := a.Add(&nats.Msg{Data: d})
		if err != nil || !ok || !bytes.Equal(got, d) {
			t.Fatalf("Add(%q) = %q, %v, %v", d, got, ok, err)
		}
	}
}

func TestAssemblerRefuses(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 300_000)
	ms := chunks(t, 64<<10, data)
	// Over the limit: refused as its bytes arrive, not after.
	a := NewAssembler(100_000)
	var err error
	for _, m := range ms {
		if _, _, err = a.Add(m); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "more than 100000 bytes") {
		t.Fatalf("got %v, want the limit named", err)
	}
	// A lost chunk: the message is dropped, the next one goes through.
	a = NewAssembler(1 << 20)
	if _, _, err := a.Add(ms[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Add(ms[2]); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("a gap: got %v", err)
	}
	// The rest of a message dropped before is ignored, told apart.
	if _, _, err := NewAssembler(1 << 20).Add(ms[1]); !errors.Is(err, ErrOrphanChunk) {
		t.Fatalf("an orphan chunk: got %v", err)
	}
	for _, h := range []string{"me 1 0", "me x 0 2", "me 1 3 2", "me 1 0 1"} {
		m := &nats.Msg{Header: nats.Header{}, Data: []byte("d")}
		m.Header.Set(ChunkHeader, h)
		if _, _, err := a.Add(m); err == nil {
			t.Errorf("header %q accepted", h)
		}
	}
	if _, _, err := a.Add(&nats.Msg{Data: make([]byte, 2<<20)}); err == nil {
		t.Error("a whole message over the limit accepted")
	}
}

func TestServerNeedsAuthBeyondLoopback(t *testing.T) {
	for _, l := range []string{"0.0.0.0:0", ":0", "10.1.2.3:0"} {
		if _, err := StartServer(ServerOptions{Listen: l}); !errors.Is(err, ErrNoAuth) {
			t.Errorf("Listen %q without auth: got %v, want ErrNoAuth", l, err)
		}
	}
	if _, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Token: "t", NKeys: []string{"U"}}); err == nil {
		t.Error("a token and NKeys accepted")
	}
	if !LoopbackAddr("") || !LoopbackAddr("localhost:1") || !LoopbackAddr("[::1]:4222") || LoopbackAddr("0.0.0.0:4222") {
		t.Error("LoopbackAddr")
	}
}

func TestPoolSubjects(t *testing.T) {
	s, err := PoolSubjects("gpu-1")
	if err != nil || s.Agents != "workestrator.gpu-1.agents" || s.Agent("a1") != "workestrator.gpu-1.agent.a1" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"", "a.b", "a*", "a b", strings.Repeat("x", 65)} {
		if _, err := PoolSubjects(bad); err == nil {
			t.Errorf("pool %q accepted", bad)
		}
	}
}
