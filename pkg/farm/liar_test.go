package farm_test

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/farm"
)

// A worker that answers "cancelled" before the attempt's Timeout is up
// gets a RemoteError matching ErrCanceled, not retried: only the host
// decides that an attempt timed out.
func TestWorkerCannotClaimATimeout(t *testing.T) {
	liar := testutil.MustBuild(t, "./internal/testutil/fixtures/liar")
	var mu sync.Mutex
	var timeouts, retries int
	f := newFarm(t, farm.Config{Path: liar, Workers: 1, Timeout: farm.DefaultStartTimeout, MaxRetries: 3,
		OnEvent: func(ev farm.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch ev.Type {
			case farm.EventTimeout:
				timeouts++
			case farm.EventRetry:
				retries++
			}
		}})
	_, err := f.RunMethod(ctx(t), "canceled")
	var re *farm.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, farm.ErrCanceled) || errors.Is(err, farm.ErrTimeout) {
		t.Fatalf("err = %T %v, want the worker's RemoteError matching ErrCanceled only", err, err)
	}
	if st := f.Stats(); st.TimedOut != 0 || st.Retried != 0 {
		t.Fatalf("stats: timed out %d, retried %d; want 0 and 0", st.TimedOut, st.Retried)
	}
	mu.Lock()
	defer mu.Unlock()
	if timeouts != 0 || retries != 0 {
		t.Fatalf("events: %d timeouts, %d retries", timeouts, retries)
	}
}

// A worker whose reply claims a result in shared memory beyond its call's
// block, or without a block: that call fails with a clear error, not
// retried, and the host goes on, on the socket data plane (with an arena)
// and on the gRPC stream (without).
func TestWorkerCannotLieAboutSharedMemory(t *testing.T) {
	liar := testutil.MustBuild(t, "./internal/testutil/fixtures/liar")
	for _, plane := range []string{"socket", "grpc"} {
		t.Run(plane, func(t *testing.T) {
			if plane == "grpc" {
				t.Setenv(wire.EnvDataPlane, wire.DataPlaneGRPC)
			}
			f := newFarm(t, farm.Config{Path: liar, Workers: 1, Env: []string{"LIAR_SHM=1"}})
			for _, args := range [][]any{{make([]byte, 300<<10)}, {}} {
				_, err := f.RunMethod(ctx(t), "shmLie", args...)
				var re *farm.RemoteError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), "shared memory") {
					t.Fatalf("shmLie(%d args): err = %v, want a RemoteError about shared memory", len(args), err)
				}
				if plane == "socket" && len(args) > 0 && !strings.Contains(err.Error(), "beyond the call's block") {
					t.Fatalf("shmLie with a block: %v", err)
				}
				if n, err := farm.Call[int](ctx(t), f, "add", 1, 2); err != nil || n != 3 {
					t.Fatalf("add after the lie = %d, %v", n, err)
				}
			}
			if st := f.Stats(); st.Retried != 0 {
				t.Fatalf("the lies were retried %d times", st.Retried)
			}
		})
	}
}

// A worker that lists shared memory answers the arena: declined (0), it
// is served on the socket without one; nonsense or nothing, the host
// closes that socket and uses the gRPC stream. Calls succeed in each case.
func TestWorkerAnswersTheArena(t *testing.T) {
	liar := testutil.MustBuild(t, "./internal/testutil/fixtures/liar")
	for _, ack := range []string{"0", "7", "none"} {
		t.Run(ack, func(t *testing.T) {
			var log testutil.SyncBuffer
			logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: io.MultiWriter(&log, testWriter{t})})
			f := newFarm(t, farm.Config{Path: liar, Workers: 1, Env: []string{"LIAR_SHM=1", "LIAR_SHM_ACK=" + ack},
				StartTimeout: 2 * time.Second, Logger: logger})
			if n, err := farm.Call[int](ctx(t), f, "add", 1, 2); err != nil || n != 3 {
				t.Fatalf("add = %d, %v", n, err)
			}
			// Its lie about a block it was not given is caught.
			if _, err := f.RunMethod(ctx(t), "shmLie", make([]byte, 300<<10)); err == nil || !strings.Contains(err.Error(), "no block there") {
				t.Fatalf("shmLie: %v", err)
			}
			logs := log.String()
			if fellBack := strings.Contains(logs, "unusable"); fellBack != (ack != "0") {
				t.Fatalf("fell back to the gRPC stream: %v; logs:\n%s", fellBack, logs)
			}
		})
	}
}
