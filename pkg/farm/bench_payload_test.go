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
