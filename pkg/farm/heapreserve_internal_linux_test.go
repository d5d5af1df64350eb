package farm

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/hashicorp/go-hclog"
)

// The reserve a configuration asks for: the default, lowered under a
// cgroup memory limit; an explicit size; none.
func TestHostHeapReserveSize(t *testing.T) {
	def := hostHeapReserve(Config{})
	if limit := cgroupMemoryLimit(); limit > 0 && limit/8 < DefaultHostHeapReserve {
		if def > limit/8 || def <= 0 {
			t.Fatalf("default reserve %d under a cgroup limit of %d", def, limit)
		}
	} else if def != DefaultHostHeapReserve {
		t.Fatalf("default reserve %d, want %d", def, DefaultHostHeapReserve)
	}
	if got := hostHeapReserve(Config{HostHeapReserve: 3 << 20}); got != 3<<20 {
		t.Fatalf("explicit reserve %d", got)
	}
	if got := hostHeapReserve(Config{HostHeapReserve: HostHeapReserveOff}); got != 0 {
		t.Fatalf("reserve off: %d", got)
	}
}

// The lowest limit along a cgroup's path, in v2 (memory.max, "max" for
// none) and v1 (memory.limit_in_bytes, a huge value for none) layouts; 0
// when none is set or nothing can be read.
func TestCgroupLimit(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("memory.max", "max\n")
	write("a/memory.max", "536870912\n")
	write("a/b/memory.max", "max\n")
	write("memory/memory.limit_in_bytes", "9223372036854771712\n")
	write("memory/x/memory.limit_in_bytes", "268435456\n")
	write("v2", "0::/a/b\n")
	write("v1", "4:memory:/x/y\n3:cpu:/z\n")
	write("none", "0::/\n4:memory:/\n")
	write("hybrid", "4:memory:/x\n0::/a\n")
	for _, c := range []struct {
		list string
		want int64
	}{
		{"v2", 512 << 20}, {"v1", 256 << 20}, {"none", 0}, {"hybrid", 256 << 20}, {"missing", 0},
	} {
		if got := cgroupLimit(filepath.Join(root, c.list), root); got != c.want {
			t.Errorf("%s: %d, want %d", c.list, got, c.want)
		}
	}
}

// A reserve made of reused memory, which make zeroes, is not resident once
// made: its pages are given back.
func TestHeapReserveNotResident(t *testing.T) {
	heapReserve.mu.Lock()
	held := heapReserve.b
	heapReserve.b = nil // the process's reserve, restored below
	heapReserve.mu.Unlock()
	defer func() {
		heapReserve.mu.Lock()
		heapReserve.b = held
		heapReserve.mu.Unlock()
	}()
	// Memory the heap reuses: touched, then garbage.
	junk := make([]byte, 128<<20)
	for i := range junk {
		junk[i] = 1
	}
	junk = nil
	runtime.GC()
	if tuned := gcTuned(); tuned != "" {
		t.Skip("the GC is tuned:", tuned)
	}
	if n := holdHeapReserve(Config{HostHeapReserve: 64 << 20}, hclog.NewNullLogger()); n != 64<<20 {
		t.Fatalf("reserve of %d bytes", n)
	}
	b := heapReserve.b
	page := os.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page+1)
	// mincore wants a page-aligned start: from the first whole page of b.
	off := toPage(b)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[off])), uintptr(len(b)-off), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal("mincore:", errno)
	}
	resident := 0
	for _, v := range vec[:(len(b)-off)/page] {
		resident += int(v & 1)
	}
	if resident > len(vec)/16 {
		t.Fatalf("%d of the reserve's %d pages are resident", resident, len(vec))
	}
}

// releasePages leaves alone a page that b shares with other memory.
func TestReleasePagesWholePagesOnly(t *testing.T) {
	page := os.Getpagesize()
	buf := make([]byte, 4*page)
	for i := range buf {
		buf[i] = 7
	}
	off := toPage(buf)
	// b starts mid-page and ends mid-page: only the page wholly inside
	// it is dropped.
	b := buf[off+page/2 : off+page/2+2*page]
	releasePages(b)
	for i, v := range buf {
		inside := i >= off+page && i < off+2*page
		if inside && v != 0 || !inside && v != 7 {
			t.Fatalf("byte %d (page offset %d) is %d after releasePages", i, off, v)
		}
	}
	releasePages(buf[off+1 : off+page]) // no whole page: nothing
	if buf[off+1] != 7 {
		t.Fatal("a part of a page was dropped")
	}
}

// toPage is the offset in b of its first byte at a page boundary.
func toPage(b []byte) int {
	page := uintptr(os.Getpagesize())
	return int((page - uintptr(unsafe.Pointer(unsafe.SliceData(b)))%page) % page)
}
