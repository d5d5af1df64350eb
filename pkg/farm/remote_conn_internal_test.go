package farm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/testutil"
)

// testServer runs an embedded NATS server on loopback until the test ends.
func testServer(t *testing.T) *server.Server {
	t.Helper()
	srv, err := remote.StartServer(remote.ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// testAgent runs an agent of one fixture worker against url until the
// test ends.
func testAgent(t *testing.T, url, name string) {
	t.Helper()
	bin := testutil.MustBuild(t, testutil.Worker)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeAgent(ctx, AgentConfig{Farm: Config{Path: bin, Workers: 1, Logger: remoteTestLogger(t)}, URL: url, Name: name})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
}

// A drop of the farm's NATS connection, its own (URL) or the caller's
// (Remote.Conn), shorter than 3 heartbeats loses the agents at once: the
// call whose answer the drop took is retried, not left waiting.
func TestConnDropLosesAgents(t *testing.T) {
	for _, own := range []bool{true, false} {
		name := map[bool]string{true: "own", false: "caller's"}[own]
		t.Run(name, func(t *testing.T) {
			srv := testServer(t)
			px := newDropProxy(t, srv.Addr().String())
			rc := &RemoteConfig{URL: "nats://" + px.addr()}
			if !own {
				nc, err := nats.Connect(rc.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nc.Close)
				rc = &RemoteConfig{Conn: nc}
			}
			host, err := New(Config{Remote: rc, Logger: remoteTestLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer host.Kill()
			testAgent(t, srv.ClientURL(), "a1")
			if err := host.WaitAgents(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			c, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			fu := host.Go(c, "sleep", 300)
			testutil.Eventually(t, 5*time.Second, "the call is sent", func() bool { return host.Stats().InFlight == 1 })
			px.drop(800 * time.Millisecond) // the answer comes at 300 ms: lost
			if _, err := fu.Result(); errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a call whose answer was published while the connection was down never ended: %v", err)
			}
		})
	}
}
