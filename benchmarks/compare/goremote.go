package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/testutil/netns"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// The remote systems. workestrator-go-remote is a host farm with no local
// worker, embedding its NATS server, and agents (`workestrator serve`,
// built from cmd/workestrator) of Workers workers each; the host runs on
// the host's CPU (compare starts it under taskset) and each agent, whose
// workers inherit its affinity, under taskset on the workers' CPU.

// agentProc is a running agent process.
type agentProc struct {
	name string
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
	err  error // set before done is closed
}

func (a *agentProc) pid() int { return a.cmd.Process.Pid }

// stop asks the agent to drain (SIGTERM), and kills it if it is still
// there after 5 s.
func (a *agentProc) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// remoteFarm starts a farm of no local worker whose embedded NATS server
// listens on listen, and agents agents on loopback, each joined before it
// returns.
func (r *goRunner) remoteFarm(ser serializer.Serializer, agents int, listen string) (*farm.Farm, error) {
	f, err := farm.New(farm.Config{
		Serializer: ser,
		Logger:     logger(),
		// A token, so that an address beyond loopback (remote-scale's
		// bridge) is allowed; the agents present it.
		Remote: &farm.RemoteConfig{Listen: listen, Token: r.token()},
	})
	if err != nil {
		return nil, err
	}
	for i := range agents {
		if err := r.addAgent(f, fmt.Sprintf("a%d", i+1), nil); err != nil {
			f.Kill()
			return nil, err
		}
	}
	return f, nil
}

// token returns the run's NATS token, made on first use.
func (r *goRunner) token() string {
	if r.natsToken == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		r.natsToken = hex.EncodeToString(b[:])
	}
	return r.natsToken
}

// addAgent starts an agent named name for f, in the network namespace of
// h when h is not nil, pinned to the workers' CPU, and waits until its
// workers are online in f.
func (r *goRunner) addAgent(f *farm.Farm, name string, h *netns.Host) error {
	args := []string{"-c", r.spec.WorkerCPU, r.spec.AgentPath, "serve",
		"--nats", f.URL(), "--token", r.token(), "--name", name,
		"--workers", fmt.Sprint(r.spec.Workers), "--max-per-worker", fmt.Sprint(r.spec.PerWorker),
		"--log-level", "warn", r.spec.WorkerPath}
	var cmd *exec.Cmd
	if h != nil {
		cmd = h.Command(context.Background(), r.spec.Taskset, args...)
	} else {
		cmd = exec.Command(r.spec.Taskset, args...)
	}
	cmd.Env = append(os.Environ(), r.workerEnv()...) // the agent's workers inherit it
	a := &agentProc{name: name, cmd: cmd, out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = a.out, a.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("agent %s: %w", name, err)
	}
	go func() {
		a.err = cmd.Wait()
		close(a.done)
	}()
	r.agents = append(r.agents, a)
	r.undo = append(r.undo, a.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := 0
		for _, w := range f.Stats().Workers {
			if w.Agent == name && w.State == "online" {
				n++
			}
		}
		if n == r.spec.Workers {
			return nil
		}
		select {
		case <-a.done:
			return fmt.Errorf("agent %s exited before it joined: %v: %s", name, a.err, lastLines([]byte(a.out.String()), 5))
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent %s: %d of %d workers online after 20 s: %s", name, n, r.spec.Workers, lastLines([]byte(a.out.String()), 5))
		}
	}
}

// hopSubject is the subject of natsHop's echo.
const hopSubject = "bench.echo"

// natsHop measures the NATS hop alone, as a remote call makes it: a
// request from this process, connected in-process to an embedded server
// as the farm is, to a process on the workers' CPU (this program with
// -nats-echo) that echoes it, and the reply; one at a time, 64 bytes each
// way (about the size of a batch of one add call).
type natsHop struct {
	srv  *server.Server
	nc   *nats.Conn
	echo *exec.Cmd
	msg  []byte
}

// startHop starts the server and the echo, and makes Warmup requests.
func (r *goRunner) startHop() (*natsHop, error) {
	srv, err := remote.StartServer(remote.ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	h := &natsHop{srv: srv, msg: make([]byte, 64)}
	if h.nc, err = nats.Connect(srv.ClientURL(), nats.InProcessServer(srv)); err != nil {
		h.stop()
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		h.stop()
		return nil, err
	}
	h.echo = exec.Command(r.spec.Taskset, "-c", r.spec.WorkerCPU, self, "-nats-echo", srv.ClientURL())
	h.echo.Stderr = os.Stderr
	h.echo.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := h.echo.Start(); err != nil {
		h.echo = nil
		h.stop()
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := h.nc.Request(hopSubject, h.msg, 100*time.Millisecond)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			h.stop()
			return nil, fmt.Errorf("the NATS echo did not answer within 10 s: %w", err)
		}
	}
	if _, err := h.requests(nil, r.spec.Warmup); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// requests makes n requests and appends their round trips, in µs, to lat.
func (h *natsHop) requests(lat []float64, n int) ([]float64, error) {
	for range n {
		t := time.Now()
		if _, err := h.nc.Request(hopSubject, h.msg, 5*time.Second); err != nil {
			return lat, fmt.Errorf("NATS hop: %w", err)
		}
		lat = append(lat, float64(time.Since(t).Nanoseconds())/1e3)
	}
	return lat, nil
}

func (h *natsHop) stop() {
	if h.echo != nil {
		_ = h.echo.Process.Kill()
		_ = h.echo.Wait()
	}
	if h.nc != nil {
		h.nc.Close()
	}
	h.srv.Shutdown()
	h.srv.WaitForShutdown()
}

// natsEcho is the -nats-echo mode: it answers every request on hopSubject
// with its data, until it is killed.
func natsEcho(url string) int {
	nc, err := nats.Connect(url)
	if err == nil {
		_, err = nc.Subscribe(hopSubject, func(m *nats.Msg) { _ = m.Respond(m.Data) })
	}
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare -nats-echo:", err)
		return 1
	}
	select {}
}

// remoteScale runs window64 and a burst through 1, then 2, then Agents
// agents, each in a network namespace of its own (a host of a netns lab,
// joined to the farm's embedded server over a bridge), all on the
// workers' CPU. Its rows are remote-scale-w64-N and remote-scale-burst-N.
func (r *goRunner) remoteScale() error {
	if ok, why := netns.Available(); !ok {
		r.skip = why
		return nil
	}
	lab, err := netns.Open(r.spec.Agents)
	if err != nil {
		return err
	}
	r.undo = append(r.undo, func() {
		if err := lab.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
		}
	})
	f, err := r.remoteFarm(nil, 0, lab.Addr()+":0")
	if err != nil {
		return err
	}
	defer f.Kill()
	ctx := context.Background()
	futures := make([]*farm.Future, r.spec.BurstCalls)
	for i, h := range lab.Hosts() {
		n := i + 1
		if err := r.addAgent(f, fmt.Sprintf("a%d", n), h); err != nil {
			return err
		}
		if _, err := f.BroadcastMethod(ctx, "add", 1, 2, 3); err != nil {
			return err
		}
		if err := r.windowOn(f, fmt.Sprintf("remote-scale-w64-%d", n), r.spec.Calls, r.spec.Window, true, addCall); err != nil {
			return fmt.Errorf("%d agents: %w", n, err)
		}
		if err := r.burstOn(f, fmt.Sprintf("remote-scale-burst-%d", n), futures); err != nil {
			return fmt.Errorf("%d agents: %w", n, err)
		}
		clear(futures)
	}
	r.stats("remote-scale", f)
	if st := f.Stats(); st.Retried != 0 || st.Failed != 0 {
		return errors.New("remote-scale: calls were retried or failed: " + r.info[len(r.info)-1])
	}
	return nil
}
