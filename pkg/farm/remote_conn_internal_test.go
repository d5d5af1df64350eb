package farm

import (
	"context"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/testutil"
)

// Control of TestCallersConnDropLosesAgents: the same drop with the
// farm's own connection (URL) ends the call (connLost, retry).
func TestOwnConnDropLosesAgents(t *testing.T) {
	bin := testutil.MustBuild(t, testutil.Worker)
	srv, err := remote.StartServer(remote.ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	px := newDropProxy(t, srv.Addr().String())
	host, err := New(Config{Remote: &RemoteConfig{URL: "nats://" + px.addr()}, Logger: remoteTestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Kill()
	actx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeAgent(actx, AgentConfig{Farm: Config{Path: bin, Workers: 1, Logger: remoteTestLogger(t)}, URL: srv.ClientURL(), Name: "a1"})
	}()
	defer func() { stop(); <-served }()
	if err := host.WaitAgents(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	fu := host.Go(c, "sleep", 300)
	time.Sleep(100 * time.Millisecond)
	px.drop(800 * time.Millisecond)
	if _, err := fu.Result(); err != nil {
		t.Fatalf("own connection: %v", err)
	}
}
