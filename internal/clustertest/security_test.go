package clustertest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

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

// Agents may sign in with an NKey instead of a token; an unknown key is
// refused.
func TestNKeyAgents(t *testing.T) {
	good, goodSeed := userKey(t)
	_, otherSeed := userKey(t)
	f := newHost(t, farm.Config{Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0", ServerNKeys: []string{good}}})
	a := startAgent(t, "good", f.URL(), nil, "--nkey", goodSeed)
	waitJoined(t, f, 2, a)
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	bad := startAgent(t, "bad", f.URL(), nil, "--nkey", otherSeed)
	select {
	case <-bad.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent with an unknown key still runs")
	}
	if bad.err == nil || !strings.Contains(strings.ToLower(bad.out.String()), "authorization violation") {
		t.Errorf("agent with an unknown key: exit %v, output:\n%s", bad.err, bad.out.String())
	}
}

// userKey makes an NKey user: its public key and a file holding its seed.
func userKey(t *testing.T) (pub, seedFile string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ = kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile = filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return pub, seedFile
}
