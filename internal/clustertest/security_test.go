package clustertest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// An agent with a wrong token, or none, is refused and exits with a clear
// error; the host never sees it.
func TestWrongTokenRefused(t *testing.T) {
	f := newHost(t, farm.Config{Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0", Token: "right-token"}})
	good := startAgent(t, "good", f.URL(), nil, "--token", "right-token")
	waitJoined(t, f, 2, good)
	for _, flags := range [][]string{{"--token", "wrong-token"}, nil} {
		a := startAgent(t, "bad", f.URL(), nil, flags...)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("agent with %v still runs", flags)
		}
		if a.err == nil || !strings.Contains(strings.ToLower(a.out.String()), "authorization violation") {
			t.Errorf("agent with %v: exit %v, output:\n%s", flags, a.err, a.out.String())
		}
	}
	if ws := agentWorkers(f, "bad"); len(ws) != 0 {
		t.Errorf("the refused agent's workers joined: %v", ws)
	}
}

// An embedded server beyond loopback needs authentication.
func TestNonLoopbackNeedsAuth(t *testing.T) {
	_, err := farm.New(farm.Config{Remote: &farm.RemoteConfig{Listen: "0.0.0.0:0"}, Logger: testLogger(t)})
	if !errors.Is(err, farm.ErrInvalidConfig) || !strings.Contains(err.Error(), "Token") {
		t.Fatalf("got %v, want ErrInvalidConfig naming Token", err)
	}
}
