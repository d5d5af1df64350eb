package clustertest

import (
	"context"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/testutil/netns"
	"github.com/workestrator/workestrator/pkg/farm"
)

// machine is where an agent runs: a network namespace with a link to the
// host's, or, without the privilege for namespaces, this machine's
// loopback (a partition is then a freeze of the agent).
type machine struct {
	ns *netns.Host // nil: loopback
}

// machines returns n machines and the address the host's server listens
// on for them.
func machines(t *testing.T, n int) ([]machine, string) {
	ok, why := netns.Available()
	ms := make([]machine, n)
	if !ok {
		t.Logf("network namespaces unavailable (%s): agents on loopback, partitions by SIGSTOP", why)
		return ms, "127.0.0.1"
	}
	lab := netns.New(t, n)
	for i, h := range lab.Hosts() {
		ms[i].ns = h
	}
	return ms, lab.Addr()
}

// command runs an agent on the machine.
func (m machine) command(name string, args ...string) *exec.Cmd {
	if m.ns == nil {
		return exec.Command(name, args...)
	}
	return m.ns.Command(context.Background(), name, args...)
}

// cut partitions the machine from the host; heal ends the partition.
func (m machine) cut(t *testing.T, a *agent) {
	if m.ns == nil {
		a.signal(t, syscall.SIGSTOP)
		return
	}
	if err := m.ns.Down(); err != nil {
		t.Fatal(err)
	}
}

func (m machine) heal(t *testing.T, a *agent) {
	if m.ns == nil {
		a.signal(t, syscall.SIGCONT)
		return
	}
	if err := m.ns.Up(); err != nil {
		t.Fatal(err)
	}
}

// Agents on two machines; one machine's link goes down mid-run: its agent
// is lost within its heartbeats, its calls finish on the other, and it
// joins again once the link is back.
func TestPartition(t *testing.T) {
	ms, addr := machines(t, 2)
	const token = "partition-test-token"
	f := newHost(t, farm.Config{MaxRetries: 5, Remote: &farm.RemoteConfig{Listen: net.JoinHostPort(addr, "0"), Token: token}})
	a1 := startAgent(t, "a1", f.URL(), ms[0].command, "--token", token)
	a2 := startAgent(t, "a2", f.URL(), ms[1].command, "--token", token)
	waitJoined(t, f, 2, a1, a2)
	j := newJournal(t)
	const n = 200
	futures := make([]*farm.Future, n)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "record", string(j), i, 10)
	}
	testutil.Eventually(t, 10*time.Second, "a1 answered calls", func() bool {
		for _, w := range f.Stats().Workers {
			if w.Agent == "a1" && w.Answered > 0 {
				return true
			}
		}
		return false
	})
	ms[0].cut(t, a1)
	cut := time.Now()
	waitLeft(t, f, "a1", 5*time.Second)
	t.Logf("partition detected after %v", time.Since(cut).Round(time.Millisecond))
	for i, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	ms[0].heal(t, a1)
	waitJoined(t, f, 2, a1)
	testutil.Eventually(t, 10*time.Second, "a1 takes calls again", func() bool {
		fs := make([]*farm.Future, 20)
		for i := range fs {
			fs[i] = f.Go(ctx(t), "sleep", 5)
		}
		for _, fu := range fs {
			if _, err := fu.Result(); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range agentWorkers(f, "a1") {
			if w.Answered > 0 {
				return true
			}
		}
		return false
	})
}
