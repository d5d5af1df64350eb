package farm

import (
	"errors"
	"os"
	"strconv"
	"syscall"
)

// rssSupported reports whether readRSS can measure a process.
const rssSupported = true

var pageSize = int64(os.Getpagesize())

// readRSS returns the resident memory of process pid in bytes, from the
// second field of /proc/<pid>/statm (resident pages, the VmRSS of
// /proc/<pid>/status): one open, one read and one close, no allocation
// beyond the path.
func readRSS(pid int) (int64, error) {
	fd, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	var buf [128]byte
	var n int
	for {
		n, err = syscall.Read(fd, buf[:])
		if err != syscall.EINTR {
			break
		}
	}
	syscall.Close(fd)
	if err != nil {
		return 0, err
	}
	return parseStatm(buf[:max(n, 0)])
}

var errStatm = errors.New("farm: unexpected /proc/<pid>/statm")

// parseStatm returns the resident memory in bytes from statm's text:
// "size resident shared text lib data dt", in pages.
func parseStatm(b []byte) (int64, error) {
	i := 0
	for i < len(b) && b[i] != ' ' {
		i++
	}
	i++
	var pages int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		pages = pages*10 + int64(b[i]-'0')
		digits++
	}
	if digits == 0 || digits > 18 {
		return 0, errStatm
	}
	return pages * pageSize, nil
}
