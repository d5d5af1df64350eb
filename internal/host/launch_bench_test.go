package host_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/host"
)

// BenchmarkLaunchStop starts a worker and stops it: what a recycled worker
// costs, in wall time and in CPU of the host and of the worker process.
func BenchmarkLaunchStop(b *testing.B) {
	var ru0, ru1, c0, c1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c0)
	dir := b.TempDir()
	for b.Loop() {
		p, err := host.Launch(context.Background(), host.LaunchConfig{Path: workerBin, Name: "w", SocketDir: dir, Env: []string{"GOMAXPROCS=1"}})
		if err != nil {
			b.Fatal(err)
		}
		p.Stop(time.Second)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c1)
	cpu := func(a, b syscall.Rusage) float64 {
		return float64(b.Utime.Nano()+b.Stime.Nano()-a.Utime.Nano()-a.Stime.Nano()) / 1e6
	}
	b.ReportMetric(cpu(ru0, ru1)/float64(b.N), "host-cpu-ms/op")
	b.ReportMetric(cpu(c0, c1)/float64(b.N), "worker-cpu-ms/op")
}
