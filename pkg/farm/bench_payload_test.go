package farm_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// BenchmarkEcho measures one big []byte echoed at a time: MB/s of argument
// bytes, and (with -benchmem) what the host allocates per call.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(sizeName(size), func(b *testing.B) { benchEcho(b, size, 0) })
		b.Run(sizeName(size)+"-noshm", func(b *testing.B) { benchEcho(b, size, farm.SharedMemoryOff) })
	}
}

// benchEcho is BenchmarkEcho of size bytes with Config.SharedMemory shm.
func benchEcho(b *testing.B, size int, shm int64) {
	f := newFarm(b, farm.Config{Workers: 1, Env: benchEnv(), SharedMemory: shm})
	c := context.Background()
	payload := bytes.Repeat([]byte{'x'}, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		back, err := farm.Call[[]byte](c, f, "echoBytes", payload)
		if err != nil || len(back) != size {
			b.Fatal(len(back), err)
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return string(rune('0'+n>>20/10%10)) + string(rune('0'+n>>20%10)) + "MiB"
	}
	return "small"
}

// BenchmarkEchoWindow is the payload workload of benchmarks/compare: a
// 1 MiB []byte echoed by 2 workers, 4 calls in flight.
func BenchmarkEchoWindow(b *testing.B) {
	const size = 1 << 20
	f := newFarm(b, farm.Config{Workers: 2, Env: benchEnv()})
	payload := bytes.Repeat([]byte{'x'}, size)
	b.SetBytes(size)
	b.ReportAllocs()
	b.SetParallelism(2) // 4 callers on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			back, err := farm.Call[[]byte](context.Background(), f, "echoBytes", payload)
			if err != nil || len(back) != size {
				b.Error(len(back), err)
				return
			}
		}
	})
}
