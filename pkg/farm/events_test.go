package farm_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// recorder is an OnEvent listener that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []farm.Event
}

func (r *recorder) on(ev farm.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) all() []farm.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

// of returns the events of the given types, in order.
func (r *recorder) of(types ...farm.EventType) []farm.Event {
	var out []farm.Event
	for _, ev := range r.all() {
		if slices.Contains(types, ev.Type) {
			out = append(out, ev)
		}
	}
	return out
}

// wait waits for an event matching ok and returns it.
func (r *recorder) wait(t *testing.T, what string, ok func(farm.Event) bool) farm.Event {
	t.Helper()
	var found farm.Event
	testutil.Eventually(t, 10*time.Second, what, func() bool {
		for _, ev := range r.all() {
			if ok(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// byWorker groups the events that have a worker by WorkerID.
func byWorker(evs []farm.Event) map[int][]farm.Event {
	m := map[int][]farm.Event{}
	for _, ev := range evs {
		if ev.WorkerID > 0 {
			m[ev.WorkerID] = append(m[ev.WorkerID], ev)
		}
	}
	return m
}

// types returns the event types of evs, as a string: "fork online message".
func types(evs []farm.Event) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = ev.Type.String()
	}
	return strings.Join(s, " ")
}

// checkLife checks a whole worker life: fork online, then anything, then
// disconnect … exit close, every event carrying the same slot and pid, in
// time order.
func checkLife(t *testing.T, wid int, evs []farm.Event) {
	t.Helper()
	ts := types(evs)
	if !strings.HasPrefix(ts, "fork online ") || !strings.HasSuffix(ts, " exit close") || !strings.Contains(ts, " disconnect ") {
		t.Fatalf("worker %d: events %q", wid, ts)
	}
	disc := slices.IndexFunc(evs, func(ev farm.Event) bool { return ev.Type == farm.EventDisconnect })
	for i, ev := range evs {
		if ev.PID != evs[0].PID || ev.Slot != evs[0].Slot || ev.PID <= 0 {
			t.Fatalf("worker %d: event %d (%v) has slot %d pid %d, fork had %d %d", wid, i, ev.Type, ev.Slot, ev.PID, evs[0].Slot, evs[0].PID)
		}
		if i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Fatalf("worker %d: event %d (%v) before the previous one", wid, i, ev.Type)
		}
		switch ev.Type {
		case farm.EventFork, farm.EventOnline, farm.EventExit, farm.EventClose, farm.EventDisconnect:
			if n := strings.Count(ts, ev.Type.String()); n != 1 {
				t.Fatalf("worker %d: %d %v events in %q", wid, n, ev.Type, ts)
			}
		case farm.EventMessage, farm.EventRetry:
			// After disconnect, only the calls the worker was running, failed.
			if i > disc && ev.Err == nil {
				t.Fatalf("worker %d: successful %v after disconnect: %q", wid, ev.Type, ts)
			}
		}
	}
	if ex := evs[len(evs)-2]; ex.Exit == nil {
		t.Fatalf("worker %d: exit event without Exit", wid)
	}
}

func TestEventsLifecycleOrder(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 2, OnEvent: rec.on})
	pids := workerPIDs(f)
	const n = 40
	var futures []*farm.Future
	for range n { // calls that last: both workers get some, whatever the machine's speed
		futures = append(futures, f.Go(ctx(t), "sleep", 20))
	}
	for _, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
	f.Kill() // delivers the last events before it returns

	evs := rec.all()
	lives := byWorker(evs)
	if len(lives) != 2 || len(evs) != n+2*5 {
		t.Fatalf("%d workers, %d events: %q", len(lives), len(evs), types(evs))
	}
	messages := 0
	seen := map[uint64]bool{}
	for wid, life := range lives {
		checkLife(t, wid, life)
		if !slices.Contains(pids, life[0].PID) {
			t.Fatalf("worker %d: pid %d, farm had %v", wid, life[0].PID, pids)
		}
		if want := "exit status 0"; life[len(life)-2].Exit.String() != want {
			t.Errorf("worker %d: %v, want %s", wid, life[len(life)-2].Exit, want)
		}
		// A normal run: fork online message… disconnect exit close.
		if ts := types(life); !strings.HasSuffix(ts, "message disconnect exit close") {
			t.Errorf("worker %d: %q", wid, ts)
		}
		for _, ev := range life {
			if ev.Type != farm.EventMessage {
				continue
			}
			messages++
			if ev.Method != "sleep" || ev.Attempt != 1 || ev.Err != nil || ev.CallID == 0 || ev.CallID > n || seen[ev.CallID] {
				t.Fatalf("message %+v", ev)
			}
			seen[ev.CallID] = true
		}
	}
	if messages != n {
		t.Fatalf("%d messages for %d calls", messages, n)
	}
	if ids := []int{evs[0].WorkerID, evs[1].WorkerID}; !slices.Contains(ids, 1) || !slices.Contains(ids, 2) {
		t.Fatalf("worker ids %v", ids)
	}
}

func TestEventMessageFailure(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, OnEvent: rec.on})
	pid := workerPIDs(f)[0]
	_, callErr := f.RunMethod(ctx(t), "fail", "permanent")
	ev := rec.wait(t, "the message", func(ev farm.Event) bool { return ev.Type == farm.EventMessage })
	if ev.Err == nil || ev.Err.Error() != callErr.Error() || !errors.Is(ev.Err, farm.ErrPermanent) {
		t.Fatalf("message err = %v, call err = %v", ev.Err, callErr)
	}
	if ev.Slot != 0 || ev.WorkerID != 1 || ev.PID != pid || ev.Method != "fail" || ev.Attempt != 1 || ev.CallID != 1 {
		t.Fatalf("message %+v", ev)
	}
}

// Retries and the last answer name the worker of the failed attempt, with
// or without a RetryIf.
func TestEventRetry(t *testing.T) {
	t.Run("policy", func(t *testing.T) { testEventRetry(t, nil) })
	t.Run("RetryIf", func(t *testing.T) { testEventRetry(t, func(error) bool { return true }) })
}

func testEventRetry(t *testing.T, retryIf func(error) bool) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: 2, OnEvent: rec.on, RetryIf: retryIf})
	pid := workerPIDs(f)[0]
	_, err := f.RunMethod(ctx(t), "fail", "plain")
	var mr *farm.MaxRetriesError
	if !errors.As(err, &mr) {
		t.Fatalf("err = %v", err)
	}
	rec.wait(t, "the message", func(ev farm.Event) bool { return ev.Type == farm.EventMessage })
	evs := rec.of(farm.EventRetry, farm.EventMessage)
	if got := types(evs); got != "retry retry message" {
		t.Fatalf("events %q", got)
	}
	for i, ev := range evs {
		if ev.Attempt != i+1 || ev.CallID != 1 || ev.Method != "fail" || ev.Err == nil || ev.WorkerID != 1 || ev.PID != pid || ev.Slot != 0 {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if !strings.Contains(evs[0].Err.Error(), "plain failure") || !errors.As(evs[2].Err, &mr) {
		t.Fatalf("errors %v / %v", evs[0].Err, evs[2].Err)
	}
}

func TestEventTimeout(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, Timeout: 50 * time.Millisecond, MaxRetries: farm.NoRetries, OnEvent: rec.on})
	pid := workerPIDs(f)[0]
	if _, err := f.RunMethod(ctx(t), "sleep", 5000); !errors.Is(err, farm.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	rec.wait(t, "the message", func(ev farm.Event) bool { return ev.Type == farm.EventMessage })
	evs := rec.of(farm.EventTimeout, farm.EventMessage)
	if got := types(evs); got != "timeout message" {
		t.Fatalf("events %q", got)
	}
	for _, ev := range evs {
		var te *farm.TimeoutError
		if !errors.As(ev.Err, &te) || ev.Attempt != 1 || ev.Method != "sleep" || ev.WorkerID != 1 || ev.PID != pid {
			t.Fatalf("%+v", ev)
		}
	}
}

func TestEventTTL(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, TTL: 2, OnEvent: rec.on})
	for range 3 {
		if _, err := f.RunMethod(ctx(t), "pid"); err != nil {
			t.Fatal(err)
		}
	}
	rec.wait(t, "the first worker's close", func(ev farm.Event) bool { return ev.Type == farm.EventClose && ev.WorkerID == 1 })
	rec.wait(t, "the replacement", func(ev farm.Event) bool { return ev.Type == farm.EventOnline && ev.WorkerID == 2 })
	life := byWorker(rec.all())[1]
	checkLife(t, 1, life)
	// The TTL is reached when the second call is dispatched; its answer follows.
	if got := types(life); got != "fork online message ttl message disconnect exit close" {
		t.Fatalf("worker 1: %q", got)
	}
	if ex := life[len(life)-2].Exit; ex.Code != 0 || ex.Signal != "" {
		t.Fatalf("recycled worker ended with %v", ex)
	}
	if st := f.Stats(); st.WorkersRecycled != 1 || st.Workers[0].WorkerID != 2 || st.Workers[0].Restarts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEventIdle(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, MaxIdleTime: 100 * time.Millisecond, OnEvent: rec.on})
	pid := workerPIDs(f)[0]
	rec.wait(t, "the idle worker's close", func(ev farm.Event) bool { return ev.Type == farm.EventClose && ev.WorkerID == 1 })
	life := byWorker(rec.all())[1]
	checkLife(t, 1, life)
	if got := types(life); got != "fork online idle disconnect exit close" || life[0].PID != pid {
		t.Fatalf("worker 1: %q, pid %d (was %d)", got, life[0].PID, pid)
	}
	rec.wait(t, "the replacement", func(ev farm.Event) bool { return ev.Type == farm.EventOnline && ev.WorkerID == 2 })
}

func TestEventCrash(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, OnEvent: rec.on})
	pid := workerPIDs(f)[0]
	// The worker dies on its first call; the retry runs on the replacement.
	marker := filepath.Join(t.TempDir(), "marker")
	got, err := farm.Call[int](ctx(t), f, "flaky", marker)
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the dead worker's close", func(ev farm.Event) bool { return ev.Type == farm.EventClose && ev.WorkerID == 1 })
	first := byWorker(rec.all())[1]
	checkLife(t, 1, first)
	if ts := types(first); ts != "fork online disconnect retry exit close" {
		t.Fatalf("worker 1: %q", ts)
	}
	retry, exit := first[3], first[4]
	var we *farm.WorkerExitError
	if !errors.As(retry.Err, &we) || we.PID != pid || retry.Attempt != 1 || retry.Method != "flaky" {
		t.Fatalf("retry %+v", retry)
	}
	if exit.Exit.Code != 3 || exit.Exit.Signal != "" {
		t.Fatalf("exit %v", exit.Exit)
	}
	msg := rec.wait(t, "the answer", func(ev farm.Event) bool { return ev.Type == farm.EventMessage })
	if msg.WorkerID != 2 || msg.PID != got || msg.Attempt != 2 || msg.Err != nil || msg.CallID != retry.CallID {
		t.Fatalf("message %+v (answered by pid %d)", msg, got)
	}
}

func TestEventCrashNoRetries(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries, OnEvent: rec.on})
	if _, err := f.RunMethod(ctx(t), "exit", 7); !errors.Is(err, farm.ErrWorkerTerminated) {
		t.Fatalf("err = %v", err)
	}
	rec.wait(t, "the dead worker's close", func(ev farm.Event) bool { return ev.Type == farm.EventClose && ev.WorkerID == 1 })
	first := byWorker(rec.all())[1]
	checkLife(t, 1, first)
	if ts := types(first); ts != "fork online disconnect message exit close" {
		t.Fatalf("worker 1: %q", ts)
	}
	if msg := first[3]; !errors.Is(msg.Err, farm.ErrWorkerTerminated) || first[4].Exit.Code != 7 {
		t.Fatalf("message %v, exit %v", msg.Err, first[4].Exit)
	}
}

func TestEventSignal(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, OnEvent: rec.on})
	pid := workerPIDs(f)[0]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev := rec.wait(t, "the exit", func(ev farm.Event) bool { return ev.Type == farm.EventExit })
	if ev.PID != pid || ev.Exit.Code != -1 || ev.Exit.Signal != "killed" {
		t.Fatalf("exit %+v %v", ev, ev.Exit)
	}
}

func TestEventStartError(t *testing.T) {
	bin := testutil.MustBuild(t, "./internal/testutil/fixtures/notworker")
	for _, tc := range []struct {
		name, path string
		args       []string
		want       string
	}{
		{"missing binary", "/nonexistent/worker", nil, "error"},
		{"not a worker", bin, []string{"exit"}, "fork error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			f, err := farm.New(farm.Config{Path: tc.path, Args: tc.args, Workers: 1, StartTimeout: 3 * time.Second,
				OnEvent: rec.on, Logger: hclog.NewNullLogger()})
			if err == nil {
				f.Kill()
				t.Fatal("New succeeded")
			}
			// New returns once the failed farm is killed: every event delivered.
			evs := rec.all()
			if got := types(evs); got != tc.want {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			ev := evs[len(evs)-1]
			var se *farm.StartError
			if !errors.As(ev.Err, &se) || ev.Err.Error() != err.Error() || ev.Slot != 0 || ev.WorkerID != 1 {
				t.Fatalf("error event %+v", ev)
			}
			if ev.PID != evs[0].PID || (tc.want == "fork error") != (ev.PID > 0) {
				t.Fatalf("error event pid %d, fork pid %d", ev.PID, evs[0].PID)
			}
			testutil.NoChildren(t, 2*time.Second)
		})
	}
}

func TestEventMessageOfQueuedCall(t *testing.T) {
	// A call cancelled while queued ends with a message of no worker.
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1, OnEvent: rec.on})
	blocker := f.Go(ctx(t), "sleep", 200)
	c, cancel := context.WithCancel(context.Background())
	queued := f.Go(c, "add", 1, 2, 3)
	cancel()
	if _, err := queued.Wait(ctx(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued call: %v", err)
	}
	if _, err := blocker.Result(); err != nil {
		t.Fatal(err)
	}
	ev := rec.wait(t, "the cancelled call's message", func(ev farm.Event) bool {
		return ev.Type == farm.EventMessage && ev.Method == "add"
	})
	if ev.Slot != -1 || ev.WorkerID != 0 || ev.PID != 0 || ev.Attempt != 0 || ev.CallID != 2 || !errors.Is(ev.Err, context.Canceled) {
		t.Fatalf("message %+v", ev)
	}
}

func TestSlowListenerDoesNotSlowCalls(t *testing.T) {
	release := make(chan struct{})
	var blocked atomic.Bool
	var delivered atomic.Int64
	f := newFarm(t, farm.Config{Workers: 2, KillTimeout: 100 * time.Millisecond, OnEvent: func(ev farm.Event) {
		if ev.Type == farm.EventMessage && !blocked.Swap(true) {
			<-release // the first message blocks the listener
		}
		delivered.Add(1)
	}})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	const n = 300
	start := time.Now()
	for i := range n {
		if _, err := f.RunMethod(ctx(t), "add", i, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Every call completed while the listener was blocked on the first one.
	if !blocked.Load() {
		t.Fatal("the listener was never blocked")
	}
	if d := delivered.Load(); d != 4 { // fork, online for each worker
		t.Fatalf("%d events delivered while the listener was blocked, want 4", d)
	}
	t.Logf("%d calls in %v with the listener blocked", n, time.Since(start))
	if st := f.Stats(); st.Succeeded != n || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	close(release)
	testutil.Eventually(t, 10*time.Second, "the backlog delivered", func() bool { return delivered.Load() == 4+n })
}

func TestKillWithBlockedListener(t *testing.T) {
	release := make(chan struct{})
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 100 * time.Millisecond, OnEvent: func(ev farm.Event) {
		if ev.Type == farm.EventMessage && ev.CallID == 1 {
			<-release
		}
		rec.on(ev)
	}})
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.Kill() // does not wait for the listener beyond KillTimeout
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Kill took %v with a blocked listener", d)
	}
	close(release)
	// The listener gets the rest after Kill returned, then its goroutine ends.
	rec.wait(t, "the close after Kill", func(ev farm.Event) bool { return ev.Type == farm.EventClose })
	if got := types(rec.all()); got != "fork online message disconnect exit close" {
		t.Fatalf("events %q", got)
	}
}

func TestPanickingListener(t *testing.T) {
	var log testutil.SyncBuffer
	var received atomic.Int64
	f := newFarm(t, farm.Config{
		Workers: 1,
		Logger:  hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: &log}),
		OnEvent: func(ev farm.Event) {
			received.Add(1)
			panic("listener bug")
		},
	})
	for i := range 5 {
		if got, err := farm.Call[int](ctx(t), f, "add", i, 1, 1); err != nil || got != i+2 {
			t.Fatalf("add = %d, %v", got, err)
		}
	}
	// fork, online and 5 messages: every event after the first panic too.
	testutil.Eventually(t, 5*time.Second, "later events", func() bool { return received.Load() == 7 })
	testutil.Eventually(t, 5*time.Second, "the panic logged", func() bool {
		return strings.Contains(log.String(), `[ERROR] event listener panicked: event=message panic="listener bug"`)
	})
}

func TestListenerMayCallTheFarm(t *testing.T) {
	var fp atomic.Pointer[farm.Farm]
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 100 * time.Millisecond, OnEvent: func(ev farm.Event) {
		if f := fp.Load(); f != nil {
			_ = f.Stats()
			if ev.Type == farm.EventMessage {
				f.Kill() // from inside the listener: delayed, never deadlocked
			}
		}
		rec.on(ev)
	}})
	fp.Store(f)
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the farm killed by the listener", func() bool {
		_, err := f.RunMethod(ctx(t), "add", 1, 2, 3)
		return errors.Is(err, farm.ErrFarmKilled)
	})
	rec.wait(t, "the close", func(ev farm.Event) bool { return ev.Type == farm.EventClose })
}
