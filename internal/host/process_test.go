package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

var workerBin string

func TestMain(m *testing.M) {
	var err error
	workerBin, err = testutil.Build(testutil.Worker)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testutil.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func launch(t testing.TB, onResponses func([]wire.Response)) *host.Process {
	t.Helper()
	return launchWith(t, host.LaunchConfig{OnResponses: onResponses})
}

// launchWith starts the fixture worker with cfg, whose Path, Name and
// SocketDir it fills.
func launchWith(t testing.TB, cfg host.LaunchConfig) *host.Process {
	t.Helper()
	cfg.Path, cfg.Name, cfg.SocketDir = workerBin, "worker-0", t.TempDir()
	p, err := host.Launch(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(100 * time.Millisecond)
		if testutil.Alive(p.PID()) {
			t.Errorf("worker %d alive after Stop", p.PID())
		}
	})
	return p
}

// transports are the two data planes: the worker's socket and the gRPC
// stream every worker serves.
var transports = []struct {
	name       string
	grpcStream bool
}{{"socket", false}, {"grpc", true}}

// forEachTransport runs test over each data plane with a worker launched
// for it, whose responses arrive on the returned channel.
func forEachTransport(t *testing.T, test func(t *testing.T, p *host.Process, got <-chan wire.Response)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			got := make(chan wire.Response, 1000)
			p := launchWith(t, host.LaunchConfig{
				GRPCStream: tr.grpcStream,
				OnResponses: func(rs []wire.Response) {
					for _, r := range rs {
						got <- r
					}
				},
			})
			if tp := p.Conn().Transport(); tp != tr.name {
				t.Fatalf("transport = %s, want %s", tp, tr.name)
			}
			test(t, p, got)
		})
	}
}

func send(c *host.Conn, rs ...*wire.Request) {
	flush := false
	for _, r := range rs {
		flush = c.Enqueue(*r) || flush
	}
	if flush {
		c.Flush()
	}
}

func jsonArgs(args ...any) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			panic(err)
		}
		out[i] = b
	}
	return out
}

func receive(t *testing.T, got <-chan wire.Response, within time.Duration) wire.Response {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(within):
		t.Fatalf("no response within %v", within)
		return wire.Response{}
	}
}

func TestDescribe(t *testing.T) {
	p := launch(t, nil)
	info, err := p.Conn().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.ProtocolVersion != wire.ProtocolVersion || info.PID != p.PID() || info.SDK != wire.SDKName {
		t.Fatalf("info = %+v", info)
	}
	if sig := info.Methods["add"]; sig != "func(int, int, int) int" {
		t.Fatalf("add's signature = %q", sig)
	}
	if _, ok := info.Methods[wire.DefaultMethod]; !ok {
		t.Fatal("no default method")
	}
	if len(info.Serializers) != 2 || info.Serializers[0] != "cbor" || info.Serializers[1] != "json" {
		t.Fatalf("serializers = %v", info.Serializers)
	}
}

func TestInvokeUnary(t *testing.T) {
	p := launch(t, nil)
	r, err := p.Conn().Invoke(context.Background(), &wire.Request{ID: 1, Method: "add", Args: [][]byte{[]byte("1"), []byte("2"), []byte("3")}})
	if err != nil || r.Failed() || string(r.Result) != "6" {
		t.Fatalf("Invoke = %+v, %v", r, err)
	}
	r, err = p.Conn().Invoke(context.Background(), &wire.Request{ID: 2, Method: "nope"})
	if err != nil || !failedWith(r, workerpb.Error_UNKNOWN_METHOD) {
		t.Fatalf("unknown method = %+v, %v", r, err)
	}
}

func TestStreamBatches(t *testing.T) {
	forEachTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		c := p.Conn()
		flush := false
		for i := range 50 {
			flush = c.Enqueue(wire.Request{ID: uint64(i), Method: "add", Args: jsonArgs(i, 0, 0)}) || flush
		}
		if !flush {
			t.Fatal("no flush asked")
		}
		c.Flush()
		seen := map[uint64]bool{}
		for len(seen) < 50 {
			r := receive(t, got, 10*time.Second)
			if string(r.Result) != fmt.Sprint(r.ID) || seen[r.ID] {
				t.Fatalf("response %+v", r)
			}
			seen[r.ID] = true
		}
		// Many goroutines at once, some woken, some flushing.
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					id := uint64(1000 + g*1000 + i)
					if c.Enqueue(wire.Request{ID: id, Method: "add", Args: jsonArgs(id, 0, 0)}) {
						if i%2 == 0 {
							c.Flush()
						} else {
							c.Wake()
						}
					}
				}
			})
		}
		wg.Wait()
		for range 8 * 200 {
			r := receive(t, got, 10*time.Second)
			if string(r.Result) != fmt.Sprint(r.ID) || seen[r.ID] {
				t.Fatalf("response %+v", r)
			}
			seen[r.ID] = true
		}
	})
}

func TestStreamCancel(t *testing.T) {
	forEachTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		c := p.Conn()
		send(c, &wire.Request{ID: 1, Method: "sleep", Args: jsonArgs(60_000)})
		time.Sleep(20 * time.Millisecond)
		start := time.Now()
		if c.EnqueueCancel(1) {
			c.Flush()
		}
		r := receive(t, got, 5*time.Second)
		if r.ID != 1 || !failedWith(r, workerpb.Error_CANCELED) {
			t.Fatalf("cancelled call: %+v, %v", r, r.Failure)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("cancel took %v", d)
		}
		// A timeout ends the call inside the worker too.
		send(c, &wire.Request{ID: 2, Method: "sleep", Args: jsonArgs(60_000), Timeout: 50 * time.Millisecond})
		r = receive(t, got, 5*time.Second)
		if r.ID != 2 || !failedWith(r, workerpb.Error_CANCELED) {
			t.Fatalf("timed out call: %+v, %v", r, r.Failure)
		}
		// A call blocked forever does not stop the others nor the cancels.
		send(c, &wire.Request{ID: 3, Method: "block"}, &wire.Request{ID: 4, Method: "sleep", Args: jsonArgs(60_000)})
		time.Sleep(20 * time.Millisecond)
		if c.EnqueueCancel(4) {
			c.Flush()
		}
		if r := receive(t, got, 5*time.Second); r.ID != 4 {
			t.Fatalf("response %+v", r)
		}
	})
}

func TestStreamLargePayloads(t *testing.T) {
	forEachTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		big := bytes.Repeat([]byte{'a'}, 16<<20)
		arg := jsonArgs(string(big))
		// Three calls of 16 MiB and a small one in one go: more than one
		// message each way.
		send(p.Conn(),
			&wire.Request{ID: 1, Method: "echoString", Args: arg},
			&wire.Request{ID: 2, Method: "echoString", Args: arg},
			&wire.Request{ID: 3, Method: "add", Args: jsonArgs(1, 2, 3)},
			&wire.Request{ID: 4, Method: "echoString", Args: arg},
		)
		for range 4 {
			r := receive(t, got, 20*time.Second)
			if err := r.Failure; err != nil {
				t.Fatal(err)
			}
			want := arg[0]
			if r.ID == 3 {
				want = []byte("6")
			}
			if !bytes.Equal(r.Result, want) {
				t.Fatalf("call %d: %d bytes back, want %d", r.ID, len(r.Result), len(want))
			}
		}
	})
}

func TestStreamInvalidUTF8(t *testing.T) {
	// protobuf refuses invalid UTF-8 in strings: such a name must neither
	// break the data plane nor lose the call.
	forEachTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		send(p.Conn(), &wire.Request{ID: 1, Method: "add\xff"})
		if r := receive(t, got, 5*time.Second); r.ID != 1 || !failedWith(r, workerpb.Error_UNKNOWN_METHOD) {
			t.Fatalf("response %+v", r)
		}
		send(p.Conn(), &wire.Request{ID: 2, Method: "add", Args: jsonArgs(1, 2, 3)})
		if r := receive(t, got, 5*time.Second); r.ID != 2 || string(r.Result) != "6" {
			t.Fatalf("response %+v", r)
		}
	})
}

func TestStreamWorkerDeath(t *testing.T) {
	forEachTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		c := p.Conn()
		send(c, &wire.Request{ID: 1, Method: "sleep", Args: jsonArgs(60_000)}, &wire.Request{ID: 2, Method: "exit", Args: jsonArgs(3)})
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("data plane open after the worker died")
		}
		if err := c.Err(); err == nil || errors.Is(err, host.ErrConnClosed) {
			t.Fatalf("Err after the worker died = %v", err)
		}
		// Sending on a dead connection neither blocks nor panics.
		send(c, &wire.Request{ID: 3, Method: "add", Args: jsonArgs(1, 2, 3)})
		if st := p.ExitStatus(); st.Code != 3 {
			t.Fatalf("exit status %v", st)
		}
	})
}

func TestStreamCloseWithBlockedCall(t *testing.T) {
	forEachTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		c := p.Conn()
		send(c, &wire.Request{ID: 1, Method: "block"})
		time.Sleep(20 * time.Millisecond)
		closed := make(chan struct{})
		go func() { c.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close hangs")
		}
		if err := c.Err(); !errors.Is(err, host.ErrConnClosed) {
			t.Fatalf("Err after Close = %v", err)
		}
		c.Close() // twice is fine
	})
}

func TestDataPlaneChoice(t *testing.T) {
	// The socket is gone once the host is connected: nobody else can.
	p := launch(t, nil)
	if p.Conn().Transport() != "socket" {
		t.Fatalf("transport = %s", p.Conn().Transport())
	}
	addr := p.Info().DataPlane()
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		t.Fatalf("data plane address %q", addr)
	}
	// A connection that comes before the socket is gone is hung up on.
	if c, err := net.Dial("unix", path); err == nil {
		c.Write(make([]byte, 64))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		c.Close()
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a second connection to the data plane socket was served: %v", err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "data plane socket removed", func() bool {
		_, err := os.Stat(path)
		return errors.Is(err, os.ErrNotExist)
	})
	if info, err := p.Conn().Describe(context.Background()); err != nil || info.DataPlane() != "" {
		t.Fatalf("Describe after the host connected: %q, %v", info.DataPlane(), err)
	}

	// AutoMTLS: the socket is not TLS, so the gRPC stream.
	p = launchWith(t, host.LaunchConfig{AutoMTLS: true})
	if p.Conn().Transport() != "grpc" || p.Info().DataPlane() != "" {
		t.Fatalf("with AutoMTLS: transport %s, data plane %q", p.Conn().Transport(), p.Info().DataPlane())
	}

	// The environment variable forces the gRPC stream on both sides.
	t.Setenv(wire.EnvDataPlane, wire.DataPlaneGRPC)
	p = launch(t, nil)
	if p.Conn().Transport() != "grpc" || p.Info().DataPlane() != "" {
		t.Fatalf("with %s: transport %s, data plane %q", wire.EnvDataPlane, p.Conn().Transport(), p.Info().DataPlane())
	}
}

func TestStopAndExitStatus(t *testing.T) {
	forEachTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		send(p.Conn(), &wire.Request{ID: 1, Method: "sleep", Args: jsonArgs(60_000)})
		p.Stop(time.Second)
		select {
		case <-p.Exited():
		default:
			t.Fatal("not exited after Stop")
		}
		if st := p.ExitStatus(); st.Code != 0 || st.Signal != "" {
			t.Fatalf("a worker asked to stop exited with %v", st)
		}
		select {
		case <-p.Conn().Done():
		default:
			t.Fatal("connection open after Stop")
		}
	})
}

// A worker started by hand, not by a host, says so and exits with status 1,
// leaving no socket behind.
func TestStartedByHand(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(workerBin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, wire.Handshake.MagicCookieKey+"=") && !strings.HasPrefix(kv, "TMPDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("run by hand: %v; want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "plugin") {
		t.Errorf("stderr does not say why: %q", stderr.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}

// failedWith reports whether r failed in the worker with code.
func failedWith(r wire.Response, code workerpb.Error_Code) bool {
	return r.Failure != nil && r.Failure.Code == code
}
