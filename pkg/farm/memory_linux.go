package farm

import (
	"bytes"
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
// beyond the path. Over a limit, the farm subtracts the arena's pages
// (readShmem) for a worker that has one.
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

// readShmem returns the resident shared memory of process pid in bytes
// (RssShmem of /proc/<pid>/status: shmem and memfd pages, among them the
// data plane's arena). It allocates: the sampler reads it only for a
// worker with an arena whose statm RSS is over a limit.
func readShmem(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseRssShmem(b)
}

var errStatus = errors.New("farm: no RssShmem in /proc/<pid>/status")

// parseRssShmem returns the bytes of the "RssShmem:   123 kB" line of a
// status file.
func parseRssShmem(b []byte) (int64, error) {
	const key = "\nRssShmem:"
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, errStatus
	}
	b = bytes.TrimLeft(b[i+len(key):], " \t")
	var kb int64
	digits := 0
	for ; digits < len(b) && b[digits] >= '0' && b[digits] <= '9'; digits++ {
		kb = kb*10 + int64(b[digits]-'0')
	}
	if digits == 0 || digits > 15 || !bytes.HasPrefix(b[digits:], []byte(" kB")) {
		return 0, errStatus
	}
	return kb << 10, nil
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
