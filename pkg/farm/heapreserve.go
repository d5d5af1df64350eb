package farm

import (
	"math"
	"runtime/metrics"
	"sync"
)

// DefaultHostHeapReserve is the host's heap reserve when
// Config.HostHeapReserve is 0: 64 MiB, or an eighth of the memory limit of
// the process's cgroup when that is less.
const DefaultHostHeapReserve = 64 << 20

// HostHeapReserveOff as Config.HostHeapReserve asks for no reserve.
const HostHeapReserveOff = -1

// MaxHostHeapReserve is the highest Config.HostHeapReserve: 4 GiB.
const MaxHostHeapReserve = 4 << 30

// heapReserve is the process's heap reserve: one allocation that nothing
// reads or writes, which the garbage collector counts as live heap and
// marks at no cost (it holds no pointers). It only grows, and is held for
// the life of the process: dropping it when the last farm ends would make
// the next farm's New zero a reused one (tens of milliseconds, resident
// until released).
var heapReserve struct {
	mu sync.Mutex
	b  []byte
}

// holdHeapReserve makes the process's heap reserve at least the size the
// farm's configuration asks for, unless the process's garbage collector
// is tuned: a GC percent other than 100 or a memory limit, set by GOGC,
// GOMEMLIMIT or runtime/debug, stands as its owner chose it (a reserve
// counts against a memory limit and would only make collections more
// frequent near it). It returns the size of the reserve the process
// holds, 0 for none.
func holdHeapReserve(c Config) int {
	size := min(hostHeapReserve(c), math.MaxInt/2) // a 32-bit platform's room
	heapReserve.mu.Lock()
	defer heapReserve.mu.Unlock()
	if size <= int64(len(heapReserve.b)) || gcTuned() {
		return len(heapReserve.b)
	}
	b := make([]byte, size)
	// A reused span is zeroed by make, and so resident: give its pages
	// back; nothing reads them.
	releasePages(b)
	heapReserve.b = b
	return len(b)
}

// resultHintsAlways makes every farm make result buffers (resultbuf.go),
// reserve or not: for tests of them.
var resultHintsAlways = false

// hostHeapReserve is the reserve c asks for, in bytes; 0 for none.
func hostHeapReserve(c Config) int64 {
	switch {
	case c.HostHeapReserve < 0:
		return 0
	case c.HostHeapReserve > 0:
		return c.HostHeapReserve
	}
	if limit := cgroupMemoryLimit(); limit > 0 && limit/8 < DefaultHostHeapReserve {
		return limit / 8 &^ (1<<20 - 1)
	}
	return DefaultHostHeapReserve
}

// gcTuned reports whether the process's GC percent is not 100 or it has a
// memory limit.
func gcTuned() bool {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return true
	}
	return s[0].Value.Uint64() != 100 || s[1].Value.Uint64() != math.MaxInt64
}
