package farm_test

import (
	"context"
	"os"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// BenchmarkSeq measures one call at a time: the round-trip latency.
func BenchmarkSeq(b *testing.B) {
	f := newFarm(b, farm.Config{Workers: 2, Env: benchEnv()})
	c := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := f.RunMethod(c, "add", i, 1, 2); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func cpuNow() (self, children time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return
}

// BenchmarkWindow64 keeps 64 calls in flight.
func BenchmarkWindow64(b *testing.B) {
	s0, c0 := cpuNow()
	f := newFarm(b, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 64, Env: benchEnv()})
	defer func() {
		f.Kill()
		s1, c1 := cpuNow()
		b.ReportMetric(float64((s1-s0).Microseconds())/float64(b.N), "host-cpu-µs/call")
		b.ReportMetric(float64((c1-c0).Microseconds())/float64(b.N), "worker-cpu-µs/call")
	}()
	window64(b, f)
}

// window64 makes b.N calls of add on f, 64 in flight at a time, and
// reports the calls per second.
func window64(b *testing.B, f *farm.Farm) {
	c := context.Background()
	window := make([]*farm.Future, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		slot := i % 64
		if fu := window[slot]; fu != nil {
			if _, err := fu.Result(); err != nil {
				b.Fatal(err)
			}
		}
		window[slot] = f.Go(c, "add", i, 1, 2)
	}
	for _, fu := range window {
		if fu != nil {
			fu.Result()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkBurst submits b.N calls at once as futures, then waits for all.
func BenchmarkBurst(b *testing.B) {
	f := newFarm(b, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 256, Env: benchEnv()})
	c := context.Background()
	futures := make([]*farm.Future, b.N)
	b.ResetTimer()
	for i := range futures {
		futures[i] = f.Go(c, "add", i, 1, 2)
	}
	for _, fu := range futures {
		if _, err := fu.Result(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// benchEnv is the workers' environment of the benchmarks:
// BENCH_WORKER_GOMAXPROCS and BENCH_WORKER_GOGC set their GOMAXPROCS and
// GOGC, apart from the host's.
func benchEnv() []string {
	var env []string
	if v := os.Getenv("BENCH_WORKER_GOMAXPROCS"); v != "" {
		env = append(env, "GOMAXPROCS="+v)
	}
	if v := os.Getenv("BENCH_WORKER_GOGC"); v != "" {
		env = append(env, "GOGC="+v)
	}
	return env
}
