package host_test

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/wire"
)

// A worker that stops reading its data plane (here: SIGSTOP) with a full
// socket blocks nobody but its own sender: another worker's receive
// goroutine that sends to it, as the farm's dispatch does, goes on
// delivering that worker's replies, and a caller that sends to it returns
// at once.
func TestStalledWorkerBlocksNobody(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			stalled := launchWith(t, host.LaunchConfig{GRPCStream: tr.grpcStream})
			big := jsonArgs(string(bytes.Repeat([]byte{'a'}, 8<<20)))
			got := make(chan wire.Response, 100)
			helped := make(chan time.Duration, 1)
			id := uint64(100)
			other := launchWith(t, host.LaunchConfig{
				GRPCStream: tr.grpcStream,
				OnResponses: func(rs []wire.Response) {
					for _, r := range rs {
						if r.ID == 1 {
							// Enough for the stalled worker's socket (or
							// HTTP/2 window) to fill up.
							start := time.Now()
							for range 3 {
								id++
								send(stalled.Conn(), &wire.Request{ID: id, Method: "echoString", Args: big})
							}
							helped <- time.Since(start)
						}
						got <- r
					}
				},
			})
			// Stopped first: it unblocks whatever still writes to it.
			t.Cleanup(func() { stalled.Stop(0) })
			proc, err := os.FindProcess(stalled.PID())
			if err != nil {
				t.Fatal(err)
			}
			if err := proc.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= 20; i++ {
				send(other.Conn(), &wire.Request{ID: i, Method: "add", Args: jsonArgs(i, 0, 0)})
				if r := receive(t, got, 5*time.Second); r.ID != i {
					t.Fatalf("response %+v, want %d", r, i)
				}
			}
			if d := <-helped; d > time.Second {
				t.Fatalf("a receive goroutine spent %v sending to a stalled worker", d)
			}
			// A caller that sends to the stalled worker returns at once.
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range 3 {
					send(stalled.Conn(), &wire.Request{ID: 200, Method: "echoString", Args: big})
				}
			}()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Fatal("a caller is blocked sending to a stalled worker")
			}
		})
	}
}
