package farm

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
)

// A reply that the arena could not settle because the connection closed
// under it (wire.ErrArenaClosed) neither fails nor retries its call: the
// call stays in flight on its worker, for the connection's end to fail it
// once with the worker's exit. Here the connection goes on, and the call's
// own answer settles it.
func TestArenaClosedReplyLeavesTheCallInFlight(t *testing.T) {
	bin := testutil.MustBuild(t, testutil.Worker)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := New(Config{Path: bin, Workers: 1, Logger: hclog.NewNullLogger()})
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
	f.mu.Lock()
	_, still := w.inflight[id]
	f.mu.Unlock()
	if !still {
		t.Fatal("the call left its worker on a reply its arena could not settle")
	}
	if _, err := fu.Wait(ctx); err != nil {
		t.Fatalf("the call: %v", err)
	}
	if st := f.Stats(); st.Retried != 0 || st.WorkersCrashed != 0 {
		t.Fatalf("retried %d, crashed %d, want 0 and 0", st.Retried, st.WorkersCrashed)
	}
}
