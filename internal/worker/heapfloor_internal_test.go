package worker

import "testing"

// The floor's percent puts the runtime's heap goal, the larger of live +
// (live+roots)×p/100 and 4 MiB×p/100, at the floor, and is never below 100.
func TestHeapFloorPercent(t *testing.T) {
	const mib = 1 << 20
	goal := func(p int, live, roots uint64) uint64 {
		return max(live+(live+roots)*uint64(p)/100, 4*mib*uint64(p)/100)
	}
	for _, c := range []struct {
		floor, live, roots uint64
		want               int
	}{
		{32 * mib, 0, 0, 800},             // before the first collection
		{32 * mib, 1 * mib, 1 * mib, 800}, // the minimum sets the goal
		{32 * mib, 8 * mib, 0, 300},       // the live heap does
		{32 * mib, 20 * mib, 0, 100},      // above the floor: GOGC=100
		{2 * mib, 0, 0, 100},              // below 4 MiB: no effect
		{1 << 40, 1, 0, gcPercentMax},     // bounded
	} {
		h := &heapFloor{floor: c.floor}
		p := h.percent(c.live, c.roots)
		if p != c.want {
			t.Errorf("floor %d, live %d, roots %d: percent %d, want %d", c.floor, c.live, c.roots, p, c.want)
		}
		if g := goal(p, c.live, c.roots); p > 100 && p < gcPercentMax && (g < c.floor*99/100 || g > c.floor) {
			t.Errorf("floor %d, live %d, roots %d: percent %d gives a goal of %d", c.floor, c.live, c.roots, p, g)
		}
	}
}
