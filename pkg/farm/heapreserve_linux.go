package farm

import (
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// releasePages drops the resident pages that lie wholly inside b, which
// nothing reads: they read as zeros if ever touched again. A page b shares
// with other memory is left alone.
func releasePages(b []byte) {
	if len(b) == 0 {
		return
	}
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first := (start + page - 1) &^ (page - 1)
	end := (start + uintptr(len(b))) &^ (page - 1)
	if end <= first {
		return
	}
	_ = syscall.Madvise(b[first-start:end-start], syscall.MADV_DONTNEED)
}

// cgroupMemoryLimit is the lowest memory limit of the process's cgroup and
// its ancestors (cgroup v2 memory.max, or v1 memory.limit_in_bytes), 0 if
// none is set or it cannot be read.
func cgroupMemoryLimit() int64 { return cgroupLimit("/proc/self/cgroup", "/sys/fs/cgroup") }

// cgroupLimit is cgroupMemoryLimit of the process whose /proc/<pid>/cgroup
// is the file list, with the cgroup file systems mounted under root.
func cgroupLimit(list, root string) int64 {
	b, err := os.ReadFile(list)
	if err != nil {
		return 0
	}
	lowest := int64(0)
	take := func(file string) {
		raw, err := os.ReadFile(file)
		if err != nil {
			return
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		// v1 says "no limit" with a page-rounded MaxInt64.
		if err != nil || n <= 0 || n >= 1<<62 {
			return
		}
		if lowest == 0 || n < lowest {
			lowest = n
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir, file := root, "memory.max"
		switch {
		case parts[0] == "0" && parts[1] == "":
		case hasController(parts[1], "memory"):
			dir, file = path.Join(root, "memory"), "memory.limit_in_bytes"
		default:
			continue
		}
		for p := path.Clean("/" + parts[2]); ; p = path.Dir(p) {
			take(path.Join(dir, p, file))
			if p == "/" {
				break
			}
		}
	}
	return lowest
}

// hasController reports whether the comma-separated controller list of a
// cgroup v1 hierarchy names the controller name.
func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}
