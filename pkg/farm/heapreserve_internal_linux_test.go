package farm

import (
	"os"
	"path/filepath"
	"testing"
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
