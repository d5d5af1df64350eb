package farm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
)

// A reply that the arena could not settle because the connection closed
// under it (wire.ErrArenaClosed) fails its attempt as a dead worker's
// would: the call is retried, and succeeds; without retries, it fails
// with a *WorkerExitError.
func TestArenaClosedReplyIsRetried(t *testing.T) {
	bin := testutil.MustBuild(t, testutil.Worker)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, retries := range []int{0, NoRetries} {
		err := arenaClosedCall(ctx, t, Config{Path: bin, Workers: 1, MaxRetries: retries, Logger: hclog.NewNullLogger()})
		var we *WorkerExitError
		if retries == 0 && err != nil {
			t.Fatalf("the call after its arena closed: %v", err)
		}
		if retries == NoRetries && (!errors.As(err, &we) || !errors.Is(err, ErrWorkerTerminated) || !errors.Is(err, wire.ErrArenaClosed)) {
			t.Fatalf("without retries: %v", err)
		}
	}
}

// arenaClosedCall answers a call in flight with wire.ErrArenaClosed, checks
// that it was retried once (with retries) and returns how the call ended.
func arenaClosedCall(ctx context.Context, t *testing.T, cfg Config) error {
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Kill()
	fu := f.Go(ctx, "sleep", 300)
	var w *worker
	var id uint64
	testutil.Eventually(t, 10*time.Second, "the call in flight", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if w = f.slots[0].cur; w != nil {
			for k, c := range w.inflight {
				if c != nil {
					id = k
					return true
				}
			}
		}
		return false
	})
	f.onResponses(w, []wire.Response{{ID: id, Err: wire.ErrArenaClosed, Crash: true}})
	_, err = fu.Wait(ctx)
	if st := f.Stats(); st.Retried != 1 && cfg.MaxRetries != NoRetries {
		t.Fatalf("retried %d times", st.Retried)
	}
	return err
}
