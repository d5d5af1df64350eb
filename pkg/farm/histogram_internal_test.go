package farm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketOfBounds(t *testing.T) {
	// Every bucket's bounds map back to it, buckets tile the range without
	// gap or overlap, and each is at most 1/8 of its lower bound wide.
	var next uint64
	for i := range histBuckets {
		low, width := bucketBounds(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		if i >= histSub && width*histSub > low {
			t.Fatalf("bucket %d: width %d > low %d / %d", i, width, low, histSub)
		}
		if got := bucketOf(low); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", low, got, i)
		}
		if got := bucketOf(low + width - 1); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", low+width-1, got, i)
		}
		next = low + width
	}
	if next != 1<<63 { // every non-negative time.Duration
		t.Fatalf("buckets end at %d, want 2^63", next)
	}
	if got := bucketOf(math.MaxInt64); got != histBuckets-1 {
		t.Fatalf("bucketOf(max) = %d", got)
	}
	for v, want := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		if got := bucketOf(uint64(v)); got != want {
			t.Fatalf("bucketOf(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h histogram
	if p := h.summary(); p != (Percentiles{}) {
		t.Fatalf("empty summary = %+v", p)
	}
}

func TestHistogramSingleAndNegative(t *testing.T) {
	var h histogram
	h.add(-time.Second) // a clock step backwards counts as 0
	h.add(123 * time.Microsecond)
	p := h.summary()
	if p.Count != 2 || p.Max != 123*time.Microsecond || p.P99 != p.Max || p.Mean != 123*time.Microsecond/2 {
		t.Fatalf("summary = %+v", p)
	}
	if p.P50 != 0 {
		t.Fatalf("p50 = %v, want 0 (the first of two samples)", p.P50)
	}
}

func TestHistogramConstant(t *testing.T) {
	// Percentiles never exceed the maximum, so a constant reads exactly.
	var h histogram
	for range 1000 {
		h.add(75 * time.Microsecond)
	}
	p := h.summary()
	if p.P50 > p.Max || p.P99 != p.Max || p.Max != 75*time.Microsecond {
		t.Fatalf("summary = %+v", p)
	}
	if rel := math.Abs(float64(p.P50-75*time.Microsecond)) / float64(75*time.Microsecond); rel > 1.0/16 {
		t.Fatalf("p50 = %v: off by %.1f %%", p.P50, rel*100)
	}
}

func TestHistogramPercentilesAgainstExact(t *testing.T) {
	// Log-normal latencies around 100 µs, and a uniform spread over
	// microseconds to minutes: each percentile is within 6.25 % of the
	// exact nearest-rank value.
	r := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() time.Duration{
		"lognormal": func() time.Duration { return time.Duration(100e3 * math.Exp(r.NormFloat64())) },
		"wide":      func() time.Duration { return time.Duration(math.Pow(10, 3+r.Float64()*8)) },
		"small":     func() time.Duration { return time.Duration(r.IntN(40)) },
	}
	for name, gen := range gens {
		for _, n := range []int{1, 2, 3, 10, 99, 100, 101, 10007} {
			var h histogram
			xs := make([]time.Duration, n)
			var sum time.Duration
			for i := range xs {
				xs[i] = gen()
				sum += xs[i]
				h.add(xs[i])
			}
			slices.Sort(xs)
			p := h.summary()
			exact := func(q float64) time.Duration {
				return xs[max(int(math.Ceil(q*float64(n))), 1)-1]
			}
			if p.Count != uint64(n) || p.Max != xs[n-1] || p.Mean != sum/time.Duration(n) {
				t.Fatalf("%s n=%d: count/max/mean = %d/%v/%v", name, n, p.Count, p.Max, p.Mean)
			}
			for _, c := range []struct {
				q   float64
				got time.Duration
			}{{0.50, p.P50}, {0.90, p.P90}, {0.99, p.P99}} {
				want := exact(c.q)
				if diff := math.Abs(float64(c.got - want)); diff > float64(want)/16 {
					t.Errorf("%s n=%d p%v = %v, exact %v", name, n, c.q*100, c.got, want)
				}
			}
			if !(p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.Max) {
				t.Errorf("%s n=%d: percentiles out of order: %+v", name, n, p)
			}
		}
	}
}

func TestEventTypeString(t *testing.T) {
	want := []string{"fork", "online", "message", "disconnect", "error", "close", "exit", "ttl", "idle", "retry", "timeout"}
	for i, w := range want {
		if got := EventType(i + 1).String(); got != w {
			t.Errorf("EventType(%d) = %q, want %q", i+1, got, w)
		}
	}
	if got := EventType(0).String(); got != "EventType(0)" {
		t.Errorf("EventType(0) = %q", got)
	}
	if got := EventType(99).String(); got != "EventType(99)" {
		t.Errorf("EventType(99) = %q", got)
	}
}

func BenchmarkHistogramAdd(b *testing.B) {
	var h histogram
	ds := make([]time.Duration, 1024)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range ds {
		ds[i] = time.Duration(100e3 * math.Exp(r.NormFloat64()))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.add(ds[i&1023])
	}
}

func BenchmarkHistogramSummary(b *testing.B) {
	var h histogram
	for i := range 100000 {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for b.Loop() {
		h.summary()
	}
}
