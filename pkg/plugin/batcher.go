package plugin

import (
	"runtime"
	"sync"
)

// batcher gathers items from many goroutines into batches for one sender,
// without a goroutine of its own: the goroutine that finds no send in
// progress becomes the sender and keeps sending until nothing is pending,
// while the others only append. A lone item is therefore sent at once, by
// the goroutine that produced it, and items that arrive during a send share
// the next message.
type batcher[T any] struct {
	mu      sync.Mutex
	pending []T
	spare   []T
	sending bool
	err     error
	send    func([]T) error
}

// add appends v and reports whether the caller must call flush.
func (b *batcher[T]) add(v T) bool {
	b.mu.Lock()
	b.pending = append(b.pending, v)
	mustFlush := !b.sending
	b.mu.Unlock()
	return mustFlush
}

// flush sends everything pending, unless another goroutine is already
// sending (it will send what was added). After a send error, items are
// dropped: the stream is broken and its owner fails the calls.
func (b *batcher[T]) flush() {
	b.mu.Lock()
	if b.sending {
		b.mu.Unlock()
		return
	}
	b.sending = true
	for round := 0; len(b.pending) > 0; round++ {
		batch := b.pending
		b.pending = b.spare[:0]
		failed := b.err != nil
		b.mu.Unlock()
		if !failed {
			if err := b.send(batch); err != nil {
				b.mu.Lock()
				b.err = err
				b.mu.Unlock()
			}
		}
		clear(batch)
		b.mu.Lock()
		b.spare = batch[:0]
		if len(b.pending) > 0 && len(b.pending) < 8 {
			// Others are producing: let them in before the next message.
			b.mu.Unlock()
			runtime.Gosched()
			b.mu.Lock()
		}
	}
	b.sending = false
	b.mu.Unlock()
}
