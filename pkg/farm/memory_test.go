package farm_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// memLimit is the memory limit of the tests: an idle fixture worker has
// about 14 MB resident, and holding 100 MiB puts it well over.
const (
	memLimit = 64 << 20
	holdMB   = 100
)

func TestMemoryConfigValidation(t *testing.T) {
	cases := []struct {
		field string
		cfg   farm.Config
	}{
		{"MaxWorkerMemory", farm.Config{Path: "x", MaxWorkerMemory: -1}},
		{"MaxWorkerMemoryHard", farm.Config{Path: "x", MaxWorkerMemoryHard: -1}},
		{"MaxWorkerMemoryHard", farm.Config{Path: "x", MaxWorkerMemory: 2 << 20, MaxWorkerMemoryHard: 1 << 20}},
		{"MemoryCheckInterval", farm.Config{Path: "x", MaxWorkerMemory: 1 << 30, MemoryCheckInterval: -time.Second}},
		{"MemoryCheckInterval", farm.Config{Path: "x", MaxWorkerMemory: 1 << 30, MemoryCheckInterval: time.Microsecond}},
	}
	for _, c := range cases {
		_, err := farm.New(c.cfg)
		if !errors.Is(err, farm.ErrInvalidConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig naming the field", c.field, err)
		}
	}
	// Hard equal to soft is fine; so is a hard limit alone.
	for _, cfg := range []farm.Config{
		{MaxWorkerMemory: memLimit, MaxWorkerMemoryHard: memLimit},
		{MaxWorkerMemoryHard: memLimit},
	} {
		cfg.Workers = 1
		newFarm(t, cfg).Kill()
	}
}

// TestMemoryUnsetSamplesNothing: without a limit nothing is sampled.
func TestMemoryUnsetSamplesNothing(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	for range 20 {
		if _, err := f.RunMethod(ctx(t), "pid"); err != nil {
			t.Fatal(err)
		}
	}
	if rss := f.Stats().Workers[0].RSS; rss != 0 {
		t.Fatalf("RSS = %d without a memory limit, want 0 (not sampled)", rss)
	}
}

// TestMemoryStatsRSS: the periodic samples follow a worker's memory up
// and down, with no call answered in between.
func TestMemoryStatsRSS(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxWorkerMemory: 1 << 40, MemoryCheckInterval: 10 * time.Millisecond})
	rss := func() int64 { return f.Stats().Workers[0].RSS }
	testutil.Eventually(t, 10*time.Second, "a first sample", func() bool { return rss() > 1<<20 })
	idle := rss()
	if idle > memLimit {
		t.Fatalf("idle worker has %d bytes resident, the tests assume less than %d", idle, memLimit)
	}
	if _, err := f.RunMethod(ctx(t), "hold", holdMB); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "RSS over 100 MiB", func() bool { return rss() > holdMB<<20 })
	if _, err := f.RunMethod(ctx(t), "release"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "RSS back down", func() bool { return rss() < memLimit })
}

// TestMemorySoftReplacesWorker: a worker over MaxWorkerMemory is replaced,
// its replacement online first; the calls it runs finish on it, and no
// call fails, is refused or is retried.
func TestMemorySoftReplacesWorker(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{
		Workers: 1, MaxWorkerMemory: memLimit, MemoryCheckInterval: 20 * time.Millisecond,
		MaxConcurrentCallsPerWorker: 20, OnEvent: rec.on,
	})
	old := workerPIDs(f)[0]
	testutil.Eventually(t, 10*time.Second, "an RSS sample", func() bool { return f.Stats().Workers[0].RSS > 0 })

	// Calls in flight on the worker while it goes over, long enough to
	// outlast its replacement's start on a loaded machine.
	var sleepers []*farm.TypedFuture[int]
	for range 5 {
		sleepers = append(sleepers, farm.GoCall[int](ctx(t), f, "sleep", 3000))
	}
	testutil.Eventually(t, 10*time.Second, "5 calls in flight", func() bool { return f.Stats().InFlight == 5 })
	if pid, err := farm.Call[int](ctx(t), f, "hold", holdMB); err != nil || pid != old {
		t.Fatalf("hold: pid %d, %v (worker %d)", pid, err, old)
	}
	// More calls while the replacement starts: none is refused or lost.
	var burst []*farm.Future
	for range 50 {
		burst = append(burst, f.Go(ctx(t), "pid"))
	}
	mem := rec.wait(t, "the memory event", func(ev farm.Event) bool { return ev.Type == farm.EventMemory })
	if mem.PID != old || mem.WorkerID != 1 {
		t.Fatalf("memory event %+v, worker pid %d", mem, old)
	}
	for i, fu := range sleepers {
		if pid, err := fu.Result(); err != nil || pid != old {
			t.Fatalf("sleeper %d: pid %d, %v; it ran on %d", i, pid, err, old)
		}
	}
	for i, fu := range burst {
		if _, err := fu.Result(); err != nil {
			t.Fatalf("call %d of the burst: %v", i, err)
		}
	}
	newPID, err := farm.Call[int](ctx(t), f, "pid")
	if st := f.Stats(); st.WorkersOverMemory != 1 || st.WorkersKilledForMemory != 0 {
		t.Errorf("memory counters: %d replaced, %d killed; want 1, 0", st.WorkersOverMemory, st.WorkersKilledForMemory)
	}
	if err != nil || newPID == old {
		t.Fatalf("after the replacement: pid %d, %v (old %d)", newPID, err, old)
	}
	rec.wait(t, "the old worker's close", func(ev farm.Event) bool { return ev.Type == farm.EventClose && ev.WorkerID == 1 })
	testutil.Eventually(t, 10*time.Second, "the new worker's RSS", func() bool {
		ws := f.Stats().Workers
		return len(ws) == 1 && ws[0].PID == newPID && ws[0].State == "online" && ws[0].RSS > 0 && ws[0].RSS < memLimit
	})

	evs := rec.all()
	life := byWorker(evs)[1]
	checkLife(t, 1, life)
	ts := types(life)
	if !strings.Contains(ts, " memory ") || strings.Count(ts, "memory") != 1 || !strings.HasSuffix(ts, "message disconnect exit close") {
		t.Fatalf("worker 1: %q", ts)
	}
	// Its five sleepers were answered after the memory event.
	after := life[slices.IndexFunc(life, func(ev farm.Event) bool { return ev.Type == farm.EventMemory }):]
	n := 0
	for _, ev := range after {
		if ev.Type == farm.EventMessage && ev.Method == "sleep" && ev.Err == nil {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d sleepers answered after the memory event: %q", n, ts)
	}
	if ex := life[len(life)-2].Exit; ex.Code != 0 || ex.Signal != "" {
		t.Fatalf("replaced worker ended with %v", ex)
	}
	// The replacement was online before the old worker stopped taking calls.
	online := slices.IndexFunc(evs, func(ev farm.Event) bool { return ev.Type == farm.EventOnline && ev.WorkerID == 2 })
	memAt := slices.IndexFunc(evs, func(ev farm.Event) bool { return ev.Type == farm.EventMemory })
	if online < 0 || online > memAt {
		t.Fatalf("replacement online at event %d, memory at %d: %q", online, memAt, types(evs))
	}
	st := f.Stats()
	if st.Failed != 0 || st.Refused != 0 || st.Retried != 0 || st.WorkersCrashed != 0 || st.WorkersRecycled != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMemorySoftServesUntilReplacementOnline: while the replacement of a
// worker over MaxWorkerMemory starts (slowly here), the worker keeps
// taking calls; it stops once the replacement is online.
func TestMemorySoftServesUntilReplacementOnline(t *testing.T) {
	var rec recorder
	cfg, slow := slowRestarts(t, farm.Config{Workers: 1, MaxWorkerMemory: memLimit, MemoryCheckInterval: 20 * time.Millisecond, OnEvent: rec.on})
	f := newFarm(t, cfg)
	old := workerPIDs(f)[0]
	slow() // the replacement takes 3 s to start
	if _, err := f.RunMethod(ctx(t), "hold", holdMB); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the replacement's fork", func(ev farm.Event) bool { return ev.Type == farm.EventFork && ev.WorkerID == 2 })
	for i := range 20 {
		if pid, err := farm.Call[int](ctx(t), f, "pid"); err != nil {
			t.Fatalf("call %d while the replacement starts: %v", i, err)
		} else if pid != old && len(rec.of(farm.EventMemory)) == 0 {
			t.Fatalf("call %d ran on %d before the memory event (old worker %d)", i, pid, old)
		}
	}
	if len(rec.of(farm.EventMemory)) != 0 {
		t.Logf("the replacement was online within 20 calls: the machine is fast or the start marker was not seen")
	}
	rec.wait(t, "the memory event", func(ev farm.Event) bool { return ev.Type == farm.EventMemory && ev.PID == old })
	if pid, err := farm.Call[int](ctx(t), f, "pid"); err != nil || pid == old {
		t.Fatalf("after the memory event: pid %d, %v (old %d)", pid, err, old)
	}
}

// TestMemorySoftWithTTLStandby: a worker over MaxWorkerMemory whose TTL
// standby is already online is replaced by it at once.
func TestMemorySoftWithTTLStandby(t *testing.T) {
	var rec recorder
	f := newFarm(t, farm.Config{Workers: 1, TTL: 8, MaxWorkerMemory: memLimit, MemoryCheckInterval: 20 * time.Millisecond, OnEvent: rec.on})
	old := workerPIDs(f)[0]
	for range 6 { // the sixth starts the standby (at three quarters of TTL)
		if _, err := f.RunMethod(ctx(t), "pid"); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "the TTL standby", func() bool {
		return slices.ContainsFunc(f.Stats().Workers, func(w farm.WorkerStats) bool { return w.State == "standby" })
	})
	if _, err := f.RunMethod(ctx(t), "hold", holdMB); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the memory event", func(ev farm.Event) bool { return ev.Type == farm.EventMemory && ev.PID == old })
	pid, err := farm.Call[int](ctx(t), f, "pid")
	if err != nil || pid == old {
		t.Fatalf("after the memory event: pid %d, %v (old %d)", pid, err, old)
	}
	if n := len(rec.of(farm.EventTTL)); n != 0 {
		t.Fatalf("%d ttl events: the memory limit came first", n)
	}
	if ws := f.Stats().Workers; ws[len(ws)-1].WorkerID != 2 || ws[len(ws)-1].PID != pid {
		t.Fatalf("the standby did not take over: %+v", ws)
	}
}

// hardFarm starts a one-worker farm with a hard memory limit that acts on
// the sample after an answer only (the periodic sample is an hour away),
// so that the call that grows the worker is answered before the kill.
func hardFarm(t *testing.T, rec *recorder, retries int) (*farm.Farm, int) {
	f := newFarm(t, farm.Config{
		Workers: 1, MaxWorkerMemoryHard: memLimit, MemoryCheckInterval: time.Hour,
		MaxRetries: retries, OnEvent: rec.on,
	})
	return f, workerPIDs(f)[0]
}

// TestMemoryHardKillsWorker: a worker over MaxWorkerMemoryHard is killed
// at once; the call it was running is retried on its replacement.
func TestMemoryHardKillsWorker(t *testing.T) {
	var rec recorder
	f, old := hardFarm(t, &rec, 0)
	sleeper := f.Go(ctx(t), "sleep", 30_000)
	testutil.Eventually(t, 10*time.Second, "the sleeper in flight", func() bool { return f.Stats().InFlight == 1 })
	start := time.Now()
	if pid, err := farm.Call[int](ctx(t), f, "hold", holdMB); err != nil || pid != old {
		t.Fatalf("hold: pid %d, %v (worker %d)", pid, err, old)
	}
	kill := rec.wait(t, "the memory-kill event", func(ev farm.Event) bool { return ev.Type == farm.EventMemoryKill })
	if kill.PID != old {
		t.Fatalf("memory-kill %+v, worker %d", kill, old)
	}
	rec.wait(t, "the retry", func(ev farm.Event) bool { return ev.Type == farm.EventRetry && ev.Method == "sleep" })
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the kill took %v: the sleeper was not cut short", d)
	}
	// The retry sleeps its 30 s on the replacement: give up on it, it
	// has shown what it had to.
	rec.wait(t, "the killed worker's close", func(ev farm.Event) bool { return ev.Type == farm.EventClose && ev.PID == old })
	life := byWorker(rec.all())[1]
	checkLife(t, 1, life)
	if ts := types(life); ts != "fork online message memory-kill disconnect retry exit close" {
		t.Fatalf("worker 1: %q", ts)
	}
	if ex := life[len(life)-2].Exit; ex.Signal != "killed" {
		t.Fatalf("killed worker ended with %v", ex)
	}
	var we *farm.WorkerExitError
	var me *farm.MemoryError
	if retry := life[5]; !errors.As(retry.Err, &we) || !errors.As(retry.Err, &me) || !errors.Is(retry.Err, farm.ErrMemoryLimit) ||
		we.PID != old || me.PID != old || me.RSS <= memLimit || me.Limit != memLimit {
		t.Fatalf("retry error %v (%+v)", retry.Err, me)
	}
	newPID, err := farm.Call[int](ctx(t), f, "pid")
	if err != nil || newPID == old {
		t.Fatalf("replacement: pid %d, %v", newPID, err)
	}
	if st := f.Stats(); st.WorkersCrashed != 1 || st.WorkersKilledForMemory != 1 || st.WorkersOverMemory != 0 || st.InFlight != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	_ = sleeper
}

// TestMemoryHardRetrySucceeds: the killed worker's call succeeds on the
// replacement.
func TestMemoryHardRetrySucceeds(t *testing.T) {
	var rec recorder
	f, old := hardFarm(t, &rec, 0)
	// Long enough to outlast the hold call on a busy machine: the kill
	// must find it running.
	sleeper := farm.GoCall[int](ctx(t), f, "sleep", 3000)
	testutil.Eventually(t, 10*time.Second, "the sleeper in flight", func() bool { return f.Stats().InFlight == 1 })
	if _, err := f.RunMethod(ctx(t), "hold", holdMB); err != nil {
		t.Fatal(err)
	}
	if pid, err := sleeper.Result(); err != nil || pid == old || pid == 0 {
		t.Fatalf("sleeper: pid %d, %v (killed worker %d)", pid, err, old)
	}
	if len(rec.of(farm.EventMemoryKill)) != 1 || len(rec.of(farm.EventRetry)) != 1 {
		t.Fatalf("events %q", types(rec.all()))
	}
}

// TestMemoryHardNoRetries: without retries, the killed worker's call fails
// with the typed error.
func TestMemoryHardNoRetries(t *testing.T) {
	var rec recorder
	f, old := hardFarm(t, &rec, farm.NoRetries)
	sleeper := f.Go(ctx(t), "sleep", 30_000)
	testutil.Eventually(t, 10*time.Second, "the sleeper in flight", func() bool { return f.Stats().InFlight == 1 })
	if _, err := f.RunMethod(ctx(t), "hold", holdMB); err != nil {
		t.Fatal(err)
	}
	_, err := sleeper.Result()
	var we *farm.WorkerExitError
	var me *farm.MemoryError
	if !errors.As(err, &we) || !errors.Is(err, farm.ErrWorkerTerminated) || !errors.As(err, &me) ||
		we.PID != old || we.Status.Signal != "killed" || me.RSS <= memLimit {
		t.Fatalf("sleeper: %v", err)
	}
	rec.wait(t, "the killed worker's close", func(ev farm.Event) bool { return ev.Type == farm.EventClose && ev.WorkerID == 1 })
	if ts := types(byWorker(rec.all())[1]); ts != "fork online message memory-kill disconnect message exit close" {
		t.Fatalf("worker 1: %q", ts)
	}
}

// BenchmarkWindow64Memory is BenchmarkWindow64 with a memory limit set (and
// never reached): the cost of sampling after answers and every
// MemoryCheckInterval (the default, 1 s).
func BenchmarkWindow64Memory(b *testing.B) {
	s0, c0 := cpuNow()
	f := newFarm(b, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 64, Env: benchEnv(), MaxWorkerMemory: 1 << 40})
	defer func() {
		f.Kill()
		s1, c1 := cpuNow()
		b.ReportMetric(float64((s1-s0).Microseconds())/float64(b.N), "host-cpu-µs/call")
		b.ReportMetric(float64((c1-c0).Microseconds())/float64(b.N), "worker-cpu-µs/call")
	}()
	c := context.Background()
	window := make([]*farm.Future, 64)
	b.ResetTimer()
	for i := range b.N {
		if fu := window[i%64]; fu != nil {
			if _, err := fu.Result(); err != nil {
				b.Fatal(err)
			}
		}
		window[i%64] = f.Go(c, "add", i, 1, 2)
	}
	for _, fu := range window {
		if fu != nil {
			fu.Result()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// A soft limit below what a fresh worker needs churns workers: the farm
// says so once, at warn level.
func TestMemoryLimitBelowFreshWorkerWarned(t *testing.T) {
	var log testutil.SyncBuffer
	newFarm(t, farm.Config{Workers: 1, MaxWorkerMemory: 1 << 20, MemoryCheckInterval: 10 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: &log})})
	testutil.Eventually(t, 5*time.Second, "the warning", func() bool {
		return strings.Contains(log.String(), "over MaxWorkerMemory before its first answer")
	})
	if n := strings.Count(log.String(), "before its first answer"); n != 1 {
		t.Fatalf("warned %d times", n)
	}
}
