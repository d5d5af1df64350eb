package plugin

import (
	"runtime"
	"sync"
)

// batcher gathers items from many goroutines into batches for one sender.
// Two ways to send what is pending: flush, by the producing goroutine
// itself, for a lone item that must leave at once (no hand-off to another
// goroutine on the latency path); or wake, which hands the send to the
// batcher's own goroutine, so that the producer goes on producing while the
// previous message is written and what it adds meanwhile shares the next
// one. Either way one goroutine sends at a time and keeps sending until
// nothing is pending.
type batcher[T any] struct {
	mu      sync.Mutex
	pending []T
	spare   []T
	sending bool
	err     error
	send    func([]T) error
	kick    chan struct{}
}

func newBatcher[T any](send func([]T) error) *batcher[T] {
	return &batcher[T]{send: send, kick: make(chan struct{}, 1)}
}

// loop is the batcher's sending goroutine; it returns when done is closed.
func (b *batcher[T]) loop(done <-chan struct{}) {
	for {
		select {
		case <-b.kick:
		case <-done:
			return
		}
		// Let the producers that were woken with us add their items first,
		// for as long as they keep adding.
		for n, i := -1, 0; i < 4; i++ {
			runtime.Gosched()
			b.mu.Lock()
			m := len(b.pending)
			b.mu.Unlock()
			if m == n {
				break
			}
			n = m
		}
		b.flush()
	}
}

// wake asks the batcher's goroutine to send what is pending.
func (b *batcher[T]) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
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
