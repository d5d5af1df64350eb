// Package kernels holds the functions the Go side of the comparison runs,
// shared by the worker binary and the compare program's in-process
// baseline, so that both run exactly the same code.
package kernels

import "math/rand/v2"

// Add is the trivial call of the latency and throughput workloads.
func Add(a, b, c int) int { return a + b + c }

// PiChunk draws n points uniformly in the unit square from a generator
// seeded with seed and returns how many fall inside the quarter circle.
func PiChunk(seed uint64, n int) int {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	inside := 0
	for range n {
		x, y := r.Float64(), r.Float64()
		if x*x+y*y <= 1 {
			inside++
		}
	}
	return inside
}
