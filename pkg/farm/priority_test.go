package farm_test

import (
	"slices"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// submitInOrder holds the farm's only worker, submits a call of "add" for
// each priority in prios (call ids 2, 3...; the holder is 1), releases the
// worker and returns the call ids in the order the worker answered them.
func submitInOrder(t *testing.T, prios []int) []uint64 {
	t.Helper()
	var order callOrder
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1, OnEvent: order.listen("add")})
	release := hold(t, f)
	var futures []*farm.Future
	for i, p := range prios {
		futures = append(futures, f.With(farm.CallOptions{Priority: p}).Go(ctx(t), "add", i, 0, 0))
	}
	release()
	for i, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "a message event for every call", func() bool { return len(order.get()) == len(prios) })
	return order.get()
}

// Higher priorities first, FIFO within a priority, on a real worker.
func TestPriorityOrder(t *testing.T) {
	//                          id: 2   3  4  5  6  7  8
	got := submitInOrder(t, []int{-1, 0, 0, 2, 2, 1, 0})
	want := []uint64{5, 6, 7, 3, 4, 8, 2}
	if !slices.Equal(got, want) {
		t.Fatalf("answer order %v, want %v", got, want)
	}
}

// A low priority is not starved: with calls of two levels waiting, one of
// the lower is dispatched after each StarvationLimit of the higher.
func TestPriorityStarvationBound(t *testing.T) {
	prios := []int{0, 0, 0} // ids 2, 3, 4
	for range 40 {
		prios = append(prios, 1) // ids 5...44
	}
	got := submitInOrder(t, prios)
	var want []uint64
	low := uint64(2)
	for i := range 40 {
		want = append(want, uint64(5+i))
		if (i+1)%farm.StarvationLimit == 0 {
			want = append(want, low)
			low++
		}
	}
	want = append(want, low)
	if !slices.Equal(got, want) {
		t.Fatalf("answer order\n%v\nwant\n%v", got, want)
	}
}
