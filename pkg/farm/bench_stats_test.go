package farm_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// BenchmarkSeqOnEvent measures sequential calls without a listener and
// with one that counts events: the cost of events on the hot path.
func BenchmarkSeqOnEvent(b *testing.B) {
	var n atomic.Int64
	for _, bc := range []struct {
		name string
		fn   func(farm.Event)
	}{
		{"nil", nil},
		{"set", func(farm.Event) { n.Add(1) }},
	} {
		b.Run("OnEvent="+bc.name, func(b *testing.B) {
			f := newFarm(b, farm.Config{Workers: 2, OnEvent: bc.fn})
			c := context.Background()
			for i := 0; b.Loop(); i++ {
				if _, err := f.RunMethod(c, "add", i, 1, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParallelOnEvent is BenchmarkSeqOnEvent with concurrent callers.
func BenchmarkParallelOnEvent(b *testing.B) {
	var n atomic.Int64
	for _, bc := range []struct {
		name string
		fn   func(farm.Event)
	}{
		{"nil", nil},
		{"set", func(farm.Event) { n.Add(1) }},
	} {
		b.Run("OnEvent="+bc.name, func(b *testing.B) {
			f := newFarm(b, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 64, OnEvent: bc.fn})
			c := context.Background()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.RunMethod(c, "add", 1, 1, 2); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkStats measures a snapshot of a farm of 8 workers.
func BenchmarkStats(b *testing.B) {
	f := newFarm(b, farm.Config{Workers: 8})
	for i := range 1000 {
		if _, err := f.RunMethod(context.Background(), "add", i, 1, 2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = f.Stats()
	}
}
