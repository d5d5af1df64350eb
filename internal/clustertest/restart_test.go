package clustertest

import (
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// natsProc runs `workestrator nats` on addr until the test ends.
func natsProc(t *testing.T, addr string) *agent {
	t.Helper()
	a := startProc(t, "nats", exec.Command(agentBin, "nats", "--listen", addr, "--log-level", "warn"))
	testutil.Eventually(t, 10*time.Second, "nats-server listens on "+addr, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return a
}

// freeAddr returns a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A NATS server restart: hosts and agents reconnect, the calls in flight
// are retried, every call is answered once, and the agents join again.
func TestNATSServerRestart(t *testing.T) {
	addr := freeAddr(t)
	srv := natsProc(t, addr)
	url := "nats://" + addr
	f := newHost(t, farm.Config{MaxRetries: 10, Remote: &farm.RemoteConfig{URL: url}})
	a1 := startAgent(t, "a1", url, nil)
	a2 := startAgent(t, "a2", url, nil)
	waitJoined(t, f, 2, a1, a2)
	j := newJournal(t)
	const n = 300
	futures := make([]*farm.Future, n)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "record", string(j), i, 10)
	}
	testutil.Eventually(t, 10*time.Second, "calls answered", func() bool { return f.Stats().Succeeded >= 20 })
	srv.signal(t, syscall.SIGKILL)
	<-srv.done
	natsProc(t, addr)
	for i, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	waitJoined(t, f, 2, a1, a2)
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	starts := j.count(t, "start")
	for i := range n {
		if starts[i] == 0 {
			t.Errorf("call %d never started", i)
		}
	}
	if out := a1.out.String() + a2.out.String(); strings.Contains(out, "panic") {
		t.Errorf("agents' output:\n%s", out)
	}
}

// An agent started before its NATS server waits for it and joins once it
// listens; one whose --connect-wait runs out exits with an error naming
// the server, its workers stopped.
func TestAgentStartedBeforeServer(t *testing.T) {
	addr := freeAddr(t)
	url := "nats://" + addr
	early := startAgent(t, "early", url, nil)
	gone := startAgent(t, "gone", "nats://"+freeAddr(t), nil, "--connect-wait", "300ms")
	select {
	case <-gone.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent with --connect-wait 300ms still runs")
	}
	if out := gone.out.String(); gone.err == nil || !strings.Contains(out, "no servers available") || !strings.Contains(out, "no server answered") {
		t.Errorf("agent with no server: exit %v, output:\n%s", gone.err, out)
	}
	testutil.Eventually(t, 10*time.Second, "the early agent logs its wait", func() bool {
		return strings.Contains(early.out.String(), "waiting for it")
	})
	natsProc(t, addr)
	f := newHost(t, farm.Config{Remote: &farm.RemoteConfig{URL: url}})
	waitJoined(t, f, 2, early)
	r, err := f.RunMethod(ctx(t), "add", 1, 2, 3)
	var sum int
	if err == nil {
		err = r.Decode(&sum)
	}
	if err != nil || sum != 6 {
		t.Fatalf("add(1, 2, 3) through the early agent: %d, %v", sum, err)
	}
}

// SIGTERM reaches an agent whose workers are still starting: it exits 0
// at once, its workers stopped.
func TestAgentStoppedWhileWorkersStart(t *testing.T) {
	a := startProc(t, "slow", exec.Command(agentBin, "serve", "--nats", "nats://"+freeAddr(t), "--workers", "1",
		"--start-timeout", "60s", "--log-level", "debug", "/bin/sleep", "300"))
	var sleeper int
	testutil.Eventually(t, 10*time.Second, "the worker process runs", func() bool {
		for _, p := range testutil.Children(a.cmd.Process.Pid) {
			sleeper = p
			return true
		}
		return false
	})
	start := time.Now()
	a.signal(t, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the agent still runs 15 s after SIGTERM")
	}
	if a.err != nil {
		t.Errorf("exit: %v, want 0\n%s", a.err, a.out.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the agent took %v to stop", d)
	}
	testutil.Eventually(t, 5*time.Second, "the starting worker is gone", func() bool { return !testutil.Alive(sleeper) })
}
