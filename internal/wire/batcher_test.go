package wire

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
)

// A producer that flushes while others keep producing sends a few batches
// at most, then leaves the rest to the batcher's goroutine; a send that
// would block is handed over too, and that goroutine finishes it.
func TestBatcherHelperHandsOver(t *testing.T) {
	var b *Batcher[int]
	var helped, owned, sent atomic.Int64
	blockOnce := atomic.Bool{}
	b = NewBatcher(func(items []int, own bool) error {
		sent.Add(int64(len(items)))
		if own {
			owned.Add(1)
		} else {
			helped.Add(1)
			if blockOnce.CompareAndSwap(false, true) {
				return ErrWouldBlock
			}
		}
		if blockOnce.Load() && owned.Load() > 0 && sent.Load() < 100 {
			b.Add(0) // someone else produced meanwhile
		}
		return nil
	})
	done := make(chan struct{})
	defer close(done)
	go b.Loop(done)

	// A send that would block: the loop takes over, even with nothing pending.
	b.Add(1)
	b.Flush()
	testutil.Eventually(t, 5*time.Second, "the loop to take over", func() bool { return owned.Load() >= 1 })
	testutil.Eventually(t, 5*time.Second, "the batcher to be idle", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return !b.sending
	})

	// Producers that keep adding: the helper stops after maxHelpRounds.
	helped.Store(0)
	sent.Store(0)
	b.Add(1)
	b.Flush()
	if n := helped.Load(); n > maxHelpRounds {
		t.Fatalf("the helper sent %d batches, want at most %d", n, maxHelpRounds)
	}
	testutil.Eventually(t, 5*time.Second, "every item sent", func() bool { return sent.Load() >= 100 })
}
