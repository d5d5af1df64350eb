// Package montecarlo estimates π by sampling random points in the unit
// square: the share that falls in the quarter circle tends to π/4.
package montecarlo

// Inside samples n points from a generator seeded with seed and returns
// how many fall inside the quarter circle.
func Inside(n int, seed uint64) int {
	// Start each chunk's stream at a scrambled point of the sequence, far
	// from the others.
	s := seed
	s = uint64(unit(&s) * (1 << 53))
	s = s<<11 ^ seed
	inside := 0
	for range n {
		x := unit(&s)
		y := unit(&s)
		if x*x+y*y <= 1 {
			inside++
		}
	}
	return inside
}

// unit returns a uniform float64 in [0, 1) from a splitmix64 generator.
func unit(s *uint64) float64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// Estimate turns a count of inside points out of total into π.
func Estimate(inside, total int) float64 { return 4 * float64(inside) / float64(total) }
