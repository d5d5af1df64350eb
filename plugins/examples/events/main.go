// Command events shows what a farm tells about itself: it prints every
// event as it happens (workers forking, coming online, answering, timing
// out, crashing, being recycled and closing), a snapshot of the workers
// while calls run, and a stats summary at the end.
//
//	go run ./plugins/examples/events
//	WORKESTRATOR_LOG=debug go run ./plugins/examples/events   # and the logs
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/plugins/examples/internal/exampleutil"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

// printer writes events and reports to out, one line at a time.
type printer struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
	idle  chan struct{} // closed at the first idle event
	once  sync.Once
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format, args...)
}

// event is the farm's OnEvent listener. It runs on a goroutine of the
// farm's, one event at a time, in order; it may be slow without slowing a
// call.
func (p *printer) event(ev farm.Event) {
	line := fmt.Sprintf("%8s  %-10s", ev.Time.Sub(p.start).Round(100*time.Microsecond), ev.Type)
	if ev.WorkerID > 0 {
		line += fmt.Sprintf("  worker %d (slot %d, pid %d)", ev.WorkerID, ev.Slot, ev.PID)
	}
	if ev.CallID > 0 {
		line += fmt.Sprintf("  call %d %s, attempt %d", ev.CallID, ev.Method, ev.Attempt)
	}
	if ev.Exit != nil {
		line += "  " + ev.Exit.String()
	}
	if ev.Err != nil {
		line += "  error: " + ev.Err.Error()
	}
	p.printf("%s\n", line)
	if ev.Type == farm.EventIdle {
		p.once.Do(func() { close(p.idle) })
	}
}

func run(ctx context.Context, out io.Writer) error {
	bin, cleanup, err := exampleutil.BuildWorker("github.com/workestrator/workestrator/plugins/examples/events/worker")
	if err != nil {
		return err
	}
	defer cleanup()
	tmp, err := os.MkdirTemp("", "workestrator-events-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	p := &printer{out: out, start: time.Now(), idle: make(chan struct{})}
	f, err := farm.New(farm.Config{
		Path:        bin,
		Workers:     2,
		TTL:         8,                      // replace a worker after 8 calls
		Timeout:     150 * time.Millisecond, // per attempt
		MaxRetries:  1,
		MaxIdleTime: 300 * time.Millisecond,
		OnEvent:     p.event,
	})
	if err != nil {
		return err
	}
	defer f.Kill()

	// Calls that spread over both workers; one of them reaches its TTL.
	p.printf("--- 12 calls of 20-60 ms\n")
	var futures []*farm.Future
	for i := range 12 {
		futures = append(futures, f.Go(ctx, "work", 20+i%5*10))
	}
	printWorkers(p, f.Stats())
	for _, fu := range futures {
		if _, err := fu.Result(); err != nil {
			return err
		}
	}

	// A call that runs past the Timeout twice: timeout, retry, timeout, and
	// an answer with the error.
	p.printf("--- a call that times out\n")
	if _, err := f.RunMethod(ctx, "work", 1000); !errors.Is(err, farm.ErrTimeout) {
		return fmt.Errorf("want a timeout, got %v", err)
	}

	// A call whose worker dies: retried on the replacement.
	p.printf("--- a call that crashes its worker\n")
	if _, err := farm.Call[int](ctx, f, "crash", filepath.Join(tmp, "crashed")); err != nil {
		return err
	}

	// Nothing to do for a while: the workers are recycled when idle.
	p.printf("--- idle\n")
	select {
	case <-p.idle:
	case <-time.After(5 * time.Second):
		return errors.New("no idle event")
	}

	p.printf("--- shutdown\n")
	if err := f.Shutdown(ctx); err != nil {
		return err
	}
	printSummary(p, f.Stats())
	return nil
}

func printWorkers(p *printer, st farm.Stats) {
	p.printf("workers now (%d queued, %d in flight):\n", st.Queued, st.InFlight)
	for _, w := range st.Workers {
		p.printf("  slot %d  worker %d  pid %d  %-8s  in flight %d  calls %d  answered %d  restarts %d\n",
			w.Slot, w.WorkerID, w.PID, w.State, w.InFlight, w.Calls, w.Answered, w.Restarts)
	}
}

func printSummary(p *printer, st farm.Stats) {
	p.printf("calls:   %d submitted, %d succeeded, %d failed, %d retried, %d timed out, %d refused\n",
		st.Submitted, st.Succeeded, st.Failed, st.Retried, st.TimedOut, st.Refused)
	p.printf("workers: %d started, %d exited, %d crashed, %d recycled\n",
		st.WorkersStarted, st.WorkersExited, st.WorkersCrashed, st.WorkersRecycled)
	for _, h := range []struct {
		name string
		p    farm.Percentiles
	}{{"queue wait", st.QueueWait}, {"run time", st.RunTime}} {
		r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
		p.printf("%-10s p50 %v  p90 %v  p99 %v  max %v  (%d attempts)\n",
			h.name+":", r(h.p.P50), r(h.p.P90), r(h.p.P99), r(h.p.Max), h.p.Count)
	}
}
