package farm_test

import (
	"context"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// remoteFarm returns a host farm without local workers and one agent of
// 2 workers serving it, both in this process (a profile shows both sides;
// benchmarks/compare runs them as separate processes on separate cores).
func remoteFarm(b *testing.B, perWorker int) *farm.Farm {
	host := newHostFarm(b)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- farm.ServeAgent(ctx, farm.AgentConfig{
			Farm: farm.Config{Path: workerBin, Workers: 2, MaxConcurrentCallsPerWorker: perWorker, Env: benchEnv(), Logger: testLogger(b)},
			URL:  host.URL(),
			Name: "bench",
		})
	}()
	b.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			b.Error(err)
		}
	})
	testutil.Eventually(b, 10*time.Second, "the agent joined", func() bool { return len(host.Stats().Workers) == 2 })
	return host
}

func newHostFarm(b *testing.B) *farm.Farm {
	f, err := farm.New(farm.Config{Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0"}, Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Kill)
	return f
}

// BenchmarkRemoteSeq is BenchmarkSeq through an agent.
func BenchmarkRemoteSeq(b *testing.B) {
	f := remoteFarm(b, 10)
	c := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.RunMethod(c, "add", i, 1, 2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemoteWindow64 is BenchmarkWindow64 through an agent.
func BenchmarkRemoteWindow64(b *testing.B) { window64(b, remoteFarm(b, 64)) }
