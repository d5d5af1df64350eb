package host_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

const liarPkg = "./internal/testutil/fixtures/liar"

// launchLiar starts the hostile fixture worker with cfg and env; responses
// arrive on the returned channel.
func launchLiar(t *testing.T, cfg host.LaunchConfig, env ...string) (*host.Process, <-chan wire.Response) {
	t.Helper()
	got := make(chan wire.Response, 100)
	cfg.Path = testutil.MustBuild(t, liarPkg)
	cfg.Name, cfg.SocketDir = "liar-0", t.TempDir()
	cfg.Env = append(cfg.Env, env...)
	cfg.OnResponses = func(rs []wire.Response) {
		for _, r := range rs {
			got <- r
		}
	}
	p, err := host.Launch(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(100 * time.Millisecond) })
	return p, got
}

// eachLiarTransport runs test over the liar's honest socket and over the
// gRPC stream, with a limit of 1 MiB.
func eachLiarTransport(t *testing.T, test func(t *testing.T, p *host.Process, got <-chan wire.Response)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p, got := launchLiar(t, host.LaunchConfig{GRPCStream: tr.grpcStream, MaxMessage: 1 << 20})
			if tp := p.Conn().Transport(); tp != tr.name {
				t.Fatalf("transport = %s, want %s", tp, tr.name)
			}
			test(t, p, got)
		})
	}
}

func waitDone(t *testing.T, c *host.Conn, within time.Duration) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(within):
		t.Fatalf("connection still open after %v", within)
		return nil
	}
}

// A worker that announces a frame far over the limit ends its connection
// with ErrTooLarge at once: the host neither allocates the frame nor waits
// for its bytes.
func TestOversizedFrameFromWorker(t *testing.T) {
	eachLiarTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		n := 1 << 30 // the socket announces 1 GiB and sends 2 bytes
		if p.Conn().Transport() == "grpc" {
			n = 16 << 20 // gRPC sends them: keep it to 16 MiB
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		send(p.Conn(), &wire.Request{ID: 1, Method: "frame", Args: jsonArgs(n)})
		err := waitDone(t, p.Conn(), 10*time.Second)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, wire.ErrTooLarge) {
			t.Fatalf("connection error = %v; want ErrTooLarge", err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Fatalf("the host allocated %d MiB for a refused frame", grew>>20)
		}
	})
}

// The host checks a result's size itself: a worker that returns more than
// MaxMessage gets a TOO_LARGE failure for that call, and the connection
// goes on.
func TestResultOverLimitFromWorker(t *testing.T) {
	eachLiarTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		send(p.Conn(), &wire.Request{ID: 1, Method: "result", Args: jsonArgs(1<<20 + 1)})
		r := receive(t, got, 10*time.Second)
		if r.ID != 1 || !failedWith(r, workerpb.Error_TOO_LARGE) || r.Result != nil {
			t.Fatalf("response %d: %d bytes, %v; want a TOO_LARGE failure", r.ID, len(r.Result), r.Failure)
		}
		send(p.Conn(), &wire.Request{ID: 2, Method: "result", Args: jsonArgs(1 << 20)})
		if r := receive(t, got, 10*time.Second); r.ID != 2 || r.Failed() || len(r.Result) != 1<<20 {
			t.Fatalf("a result of exactly the limit: %d bytes, %v", len(r.Result), r.Failure)
		}
		send(p.Conn(), &wire.Request{ID: 3, Method: "add", Args: jsonArgs(1, 2)})
		if r := receive(t, got, 10*time.Second); r.ID != 3 || string(r.Result) != "3" {
			t.Fatalf("after the refused result: %+v", r)
		}
	})
}

// Error texts are bounded on the host, whatever the worker sends.
func TestErrorTextBounded(t *testing.T) {
	eachLiarTransport(t, func(t *testing.T, p *host.Process, got <-chan wire.Response) {
		send(p.Conn(), &wire.Request{ID: 1, Method: "error", Args: jsonArgs(2 << 20)})
		r := receive(t, got, 10*time.Second)
		if r.Failure == nil {
			t.Fatalf("response %+v", r)
		}
		if len(r.Failure.Message) > 128<<10 {
			t.Fatalf("the host kept an error message of %d bytes", len(r.Failure.Message))
		}
	})
}

// A Describe over the limit fails the start.
func TestDescribeBounded(t *testing.T) {
	_, err := host.Launch(context.Background(), host.LaunchConfig{
		Path:       testutil.MustBuild(t, liarPkg),
		Name:       "liar-0",
		SocketDir:  t.TempDir(),
		MaxMessage: 1 << 20,
		Env:        []string{"LIAR_ADDR=none", "LIAR_DESCRIBE_BYTES=" + strconv.Itoa(16<<20)},
	})
	if err == nil {
		t.Fatal("a Describe of 16 MiB was accepted with a limit of 1 MiB")
	}
}

// A worker refuses a frame over its own limit: the host's call does not
// run and the connection ends.
func TestWorkerRefusesOversizedFrame(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			got := make(chan wire.Response, 10)
			p := launchWith(t, host.LaunchConfig{
				GRPCStream:  tr.grpcStream,
				Env:         []string{wire.EnvMaxMessage + "=65536"},
				OnResponses: func(rs []wire.Response) { got <- rs[0] },
			})
			send(p.Conn(), &wire.Request{ID: 1, Method: "echoString", Args: jsonArgs(string(bytes.Repeat([]byte{'a'}, 16<<20)))})
			select {
			case r := <-got:
				t.Fatalf("the worker ran a call of 16 MiB with a limit of 64 KiB: %d bytes, %v", len(r.Result), r.Failure)
			case <-p.Conn().Done():
			case <-time.After(10 * time.Second):
				t.Fatal("connection still open")
			}
		})
	}
}
