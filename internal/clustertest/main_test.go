package clustertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

var workerBin, agentBin string

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, map[*string]string{
		&workerBin: testutil.Worker,
		&agentBin:  "./cmd/workestrator",
	}))
}

// hb is the heartbeat of the tests' hosts and agents: an agent is lost
// after 3 of them.
const hb = 100 * time.Millisecond

// newHost starts a farm with no local worker that embeds a NATS server on
// listen (loopback, a free port, when empty) and draws from pool.
func newHost(t testing.TB, cfg farm.Config) *farm.Farm {
	t.Helper()
	if cfg.Remote == nil {
		cfg.Remote = &farm.RemoteConfig{}
	}
	if cfg.Remote.URL == "" && cfg.Remote.Conn == nil && cfg.Remote.Listen == "" {
		cfg.Remote.Listen = "127.0.0.1:0"
	}
	if cfg.Remote.Heartbeat == 0 {
		cfg.Remote.Heartbeat = hb
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	f, err := farm.New(cfg)
	if err != nil {
		t.Fatalf("farm.New: %v", err)
	}
	t.Cleanup(f.Kill)
	return f
}

// testLogger logs warnings and errors into the test's log.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// agent is a `workestrator serve` process.
type agent struct {
	name string
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
	err  error
}

// startAgent runs an agent named name of the fixture worker against url,
// with 2 workers and the tests' heartbeat unless flags say otherwise;
// cmd, when not nil, makes the command (to run it in a namespace).
func startAgent(t testing.TB, name, url string, cmd func(name string, args ...string) *exec.Cmd, flags ...string) *agent {
	t.Helper()
	args := append([]string{"serve", "--nats", url, "--name", name, "--workers", "2", "--heartbeat", hb.String(), "--log-level", logLevel()}, flags...)
	args = append(args, workerBin)
	var c *exec.Cmd
	if cmd != nil {
		c = cmd(agentBin, args...)
	} else {
		c = exec.Command(agentBin, args...)
	}
	return startProc(t, name, c)
}

// startProc starts c, named name, and kills it (thawed first) when the
// test ends; its output is logged if the test failed.
func startProc(t testing.TB, name string, c *exec.Cmd) *agent {
	t.Helper()
	a := &agent{name: name, cmd: c, out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	c.Stdout, c.Stderr = a.out, a.out
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.err = c.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		_ = c.Process.Signal(syscall.SIGCONT)
		_ = c.Process.Kill()
		<-a.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, a.out.String())
		}
	})
	return a
}

// signal sends sig to the agent.
func (a *agent) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to agent %s: %v", sig, a.name, err)
	}
}

// agentWorkers returns the farm's workers of agent name that are online.
func agentWorkers(f *farm.Farm, name string) []farm.WorkerStats {
	var ws []farm.WorkerStats
	for _, w := range f.Stats().Workers {
		if w.Agent == name && w.State == "online" {
			ws = append(ws, w)
		}
	}
	return ws
}

// waitJoined waits until the farm has n online workers of each agent.
func waitJoined(t testing.TB, f *farm.Farm, n int, agents ...*agent) {
	t.Helper()
	for _, a := range agents {
		testutil.Eventually(t, 20*time.Second, fmt.Sprintf("agent %s joined with %d workers", a.name, n), func() bool {
			select {
			case <-a.done:
				t.Fatalf("agent %s exited: %v\n%s", a.name, a.err, a.out.String())
			default:
			}
			return len(agentWorkers(f, a.name)) == n
		})
	}
}

// waitLeft waits until the farm has no worker of agent name.
func waitLeft(t testing.TB, f *farm.Farm, name string, timeout time.Duration) {
	t.Helper()
	testutil.Eventually(t, timeout, "agent "+name+" lost", func() bool {
		for _, w := range f.Stats().Workers {
			if w.Agent == name {
				return false
			}
		}
		return true
	})
}

// ctx returns a context bounded by 60 s and the test.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// logLevel is the agents' log level: $CLUSTERTEST_LOG, warn by default.
func logLevel() string {
	if l := os.Getenv("CLUSTERTEST_LOG"); l != "" {
		return l
	}
	return "warn"
}
