package clustertest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/workestrator/workestrator/pkg/farm"
)

// Payloads bigger than the server's max payload travel in chunks, both
// ways, taken with Call and with AppendCall.
func TestBigPayloadChunked(t *testing.T) {
	f := newHost(t, farm.Config{Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0", MaxPayload: 1 << 20}})
	a1 := startAgent(t, "a1", f.URL(), nil)
	waitJoined(t, f, 2, a1)
	in := make([]byte, 5<<20+123)
	for i := range in {
		in[i] = byte(rand.Uint32())
	}
	r, err := f.RunMethod(ctx(t), "echoBytes", in)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := r.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("echo of %d bytes came back as %d bytes, different", len(in), len(out))
	}
	// AppendCall through the agent: the same bytes, appended to the
	// caller's buffer, several times over.
	buf := make([]byte, 0, len(in))
	for range 3 {
		if buf, err = farm.AppendCall(ctx(t), f, buf[:0], "echoBytes", in); err != nil || !bytes.Equal(buf, in) {
			t.Fatalf("AppendCall through the agent: %d bytes, %v", len(buf), err)
		}
	}
}

// A call bigger than the agent takes is refused with ErrTooLarge, not
// lost.
func TestPayloadTooLargeForAgent(t *testing.T) {
	f := newHost(t, farm.Config{})
	a1 := startAgent(t, "a1", f.URL(), nil, "--max-message-size", "1M")
	waitJoined(t, f, 2, a1)
	_, err := f.RunMethod(ctx(t), "size", make([]byte, 2<<20))
	if !errors.Is(err, farm.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	// And a result bigger than the host takes.
	_, err = f.RunMethod(ctx(t), "bytes", 300<<20)
	if !errors.Is(err, farm.ErrTooLarge) {
		t.Fatalf("a result over the host's MaxMessageSize: got %v, want ErrTooLarge", err)
	}
}

// A NATS server whose max payload cannot carry a farm's chunks is refused
// at start, by the host and by an agent, with an error that says so.
func TestServerMaxPayloadTooSmall(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, MaxPayload: 512, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	_, err = farm.New(farm.Config{Path: workerBin, Workers: 1, Logger: testLogger(t), Remote: &farm.RemoteConfig{URL: srv.ClientURL()}})
	if err == nil || !strings.Contains(err.Error(), "max_payload is 512 bytes") {
		t.Fatalf("farm.New: %v, want a max_payload error", err)
	}
	a := startAgent(t, "a1", srv.ClientURL(), nil)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent still runs")
	}
	if out := a.out.String(); a.err == nil || !strings.Contains(out, "max_payload is 512 bytes") {
		t.Fatalf("agent: %v, output:\n%s", a.err, out)
	}
}
