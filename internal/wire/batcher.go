package wire

import (
	"errors"
	"runtime"
	"sync"
)

// Batcher gathers items from many goroutines into batches for one sender.
// Two ways to send what is pending: flush, by the producing goroutine
// itself, for a lone item that must leave at once (no hand-off to another
// goroutine on the latency path); or wake, which hands the send to the
// Batcher's own goroutine, so that the producer goes on producing while the
// previous message is written and what it adds meanwhile shares the next
// one. Either way one goroutine sends at a time and keeps sending until
// nothing is pending.
//
// A producer that flushes only helps: send is told so (own false) and may
// refuse to block by returning errWouldBlock once it has taken the batch
// (the transport keeps what it could not write); the Batcher's own
// goroutine then takes over the send, blocking if it must. A helper also
// hands over after maxHelpRounds batches, so that others who keep producing
// cannot keep it sending.
type Batcher[T any] struct {
	mu      sync.Mutex
	pending []T
	spare   []T
	sending bool
	handed  bool // sending belongs to the batcher's goroutine, which has not started yet
	err     error
	send    func(batch []T, own bool) error
	kick    chan struct{}
	kickNow chan struct{} // kick, without waiting for more items
}

// ErrWouldBlock is what a helper's send returns when the rest of its batch
// would have to wait for the peer to read.
var ErrWouldBlock = errors.New("send would block")

// maxHelpRounds is the most batches a producer sends in one flush.
const maxHelpRounds = 4

func NewBatcher[T any](send func([]T, bool) error) *Batcher[T] {
	return &Batcher[T]{send: send, kick: make(chan struct{}, 1), kickNow: make(chan struct{}, 1)}
}

// Loop is the batcher's sending goroutine; it returns when done is closed.
func (b *Batcher[T]) Loop(done <-chan struct{}) {
	for {
		gather := 4
		select {
		case <-b.kick:
		case <-b.kickNow:
			gather = 0
		case <-done:
			return
		}
		// Let the producers that were woken with us add their items first,
		// for as long as they keep adding.
		for n, i := -1, 0; i < gather; i++ {
			runtime.Gosched()
			b.mu.Lock()
			m := len(b.pending)
			b.mu.Unlock()
			if m == n {
				break
			}
			n = m
		}
		b.Run(true)
	}
}

// Wake asks the batcher's goroutine to send what is pending.
func (b *Batcher[T]) Wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// WakeNow is wake for what must leave at once: the batcher's goroutine
// does not wait for more items first.
func (b *Batcher[T]) WakeNow() {
	select {
	case b.kickNow <- struct{}{}:
	default:
	}
}

// Add appends v and reports whether the caller must call flush.
func (b *Batcher[T]) Add(v T) bool {
	b.mu.Lock()
	b.pending = append(b.pending, v)
	mustFlush := !b.sending
	b.mu.Unlock()
	return mustFlush
}

// Flush sends what is pending from the calling goroutine, unless another
// goroutine is already sending (it will send what was added), without
// blocking on the peer: see the type's doc.
func (b *Batcher[T]) Flush() { b.Run(false) }

// Run sends everything pending, as the batcher's own goroutine (own) or as
// a helper. After a send error, items are dropped: the stream is broken and
// its owner fails the calls.
func (b *Batcher[T]) Run(own bool) {
	b.mu.Lock()
	takeover := false
	switch {
	case own && b.handed:
		// A helper left its send to us; the transport may hold bytes of it.
		b.handed, takeover = false, true
	case b.sending:
		b.mu.Unlock()
		return
	default:
		b.sending = true
	}
	for round := 0; len(b.pending) > 0 || takeover; round++ {
		if !own && round == maxHelpRounds {
			b.HandOver()
			return
		}
		takeover = false
		batch := b.pending
		b.pending = b.spare[:0]
		failed := b.err != nil
		b.mu.Unlock()
		var err error
		if !failed {
			err = b.send(batch, own)
		}
		clear(batch)
		b.mu.Lock()
		b.spare = batch[:0]
		switch {
		case err == ErrWouldBlock:
			b.HandOver()
			return
		case err != nil:
			b.err = err
		}
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

// HandOver passes sending from a helper to the batcher's goroutine and
// unlocks b.mu.
func (b *Batcher[T]) HandOver() {
	b.handed = true
	b.mu.Unlock()
	b.WakeNow()
}
