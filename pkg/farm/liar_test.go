package farm_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/workestrator/workestrator/internal/testutil"
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
