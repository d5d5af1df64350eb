package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// tally counts, from the farm's events, which agent ran each chunk and
// how many chunk attempts each lost. The chunks are the calls submitted
// after arm, in order, from one goroutine: chunk i is call base+1+i.
// Safe for concurrent use.
type tally struct {
	chunks int
	done   chan struct{} // closed once every chunk's call has ended

	mu       sync.Mutex
	armed    bool
	base     uint64
	answered []bool
	ended    int
	ran      map[string]int
	lost     map[string]int
	err      error
}

func newTally(chunks int) *tally {
	return &tally{
		chunks: chunks, done: make(chan struct{}), answered: make([]bool, chunks),
		ran: make(map[string]int), lost: make(map[string]int),
	}
}

// arm starts the count with the calls after the base-th.
func (t *tally) arm(base uint64) {
	t.mu.Lock()
	t.armed, t.base = true, base
	t.mu.Unlock()
}

// event is the farm's OnEvent.
func (t *tally) event(ev farm.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.armed || ev.CallID <= t.base || ev.CallID > t.base+uint64(t.chunks) {
		return
	}
	i := int(ev.CallID - t.base - 1)
	switch ev.Type {
	case farm.EventRetry:
		agent := ev.Agent
		var we *farm.WorkerExitError
		if errors.As(ev.Err, &we) && we.Agent != "" {
			agent = we.Agent
		}
		t.lost[agent]++
	case farm.EventMessage:
		if t.answered[i] {
			if t.err == nil {
				t.err = fmt.Errorf("chunk %d answered twice", i)
			}
			return
		}
		t.answered[i] = true
		if ev.Err == nil {
			t.ran[ev.Agent]++
		}
		if t.ended++; t.ended == t.chunks {
			close(t.done)
		}
	}
}

// wait waits for the events of every chunk's answer (they are delivered
// after the answers) and returns the error of one answered twice.
func (t *tally) wait(ctx context.Context) error {
	select {
	case <-t.done:
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the farm's events of some chunks did not arrive within 10s")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// of returns how many chunks agent ran, and how many of its attempts were
// lost (and run again elsewhere).
func (t *tally) of(agent string) (ran, lost int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ran[agent], t.lost[agent]
}
