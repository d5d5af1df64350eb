package farm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// BenchmarkWindow64Options keeps 64 calls in flight, as BenchmarkWindow64,
// through Callers: the farm's options, priorities spread over 4 levels,
// sticky keys spread over 64 keys.
func BenchmarkWindow64Options(b *testing.B) {
	none := func(f *farm.Farm) func(int) farm.Invoker { return func(int) farm.Invoker { return f } }
	cases := []struct {
		name    string
		callers func(f *farm.Farm) func(int) farm.Invoker
	}{
		{"farm", none},
		{"priority", func(f *farm.Farm) func(int) farm.Invoker {
			cs := make([]*farm.Caller, 4)
			for p := range cs {
				cs[p] = f.With(farm.CallOptions{Priority: p})
			}
			return func(i int) farm.Invoker { return cs[i%4] }
		}},
		{"key", func(f *farm.Farm) func(int) farm.Invoker {
			cs := make([]*farm.Caller, 64)
			for k := range cs {
				cs[k] = f.With(farm.CallOptions{Key: fmt.Sprint("key-", k)})
			}
			return func(i int) farm.Invoker { return cs[i%64] }
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			f := newFarm(b, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 64, Env: benchEnv()})
			caller := tc.callers(f)
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
				window[slot] = caller(i).Go(c, "add", i, 1, 2)
			}
			for _, fu := range window {
				if fu != nil {
					fu.Result()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
