//go:build !linux

package farm

// releasePages leaves b's pages as they are: nothing drops them here.
func releasePages([]byte) {}

// cgroupMemoryLimit is 0: cgroups are Linux's.
func cgroupMemoryLimit() int64 { return 0 }
