package wire

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// ShmSupported reports whether this system has shared memory arenas.
const ShmSupported = true

// CreateArena makes the memory of an arena of size bytes: a memfd, sparse
// (untouched pages cost nothing; a page once touched stays resident until
// the arena is gone), sealed so that nobody can shrink or grow
// it (a peer that shrank it would make the host fault on its pages), and
// mapped shared. The caller passes fd to the worker, then closes it; mem
// stays mapped until UnmapArena.
func CreateArena(size int) (mem []byte, fd int, err error) {
	if size <= 0 || size%shmAlign != 0 {
		return nil, -1, fmt.Errorf("shared memory arena of %d bytes: not a positive multiple of %d", size, shmAlign)
	}
	fd, err = unix.MemfdCreate("workestrator-arena", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, -1, fmt.Errorf("memfd_create: %w", err)
	}
	fail := func(what string, err error) ([]byte, int, error) {
		unix.Close(fd)
		return nil, -1, fmt.Errorf("shared memory arena: %s: %w", what, err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail("ftruncate", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		return fail("seal", err)
	}
	mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	return mem, fd, nil
}

// MapArena maps the arena a host passed as fd, once it has checked that
// fd is a sealed memfd (its size can change no more) of exactly size
// bytes. It does not close fd.
func MapArena(fd int, size int) ([]byte, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("shared memory: fstat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != int64(size) || size <= 0 {
		return nil, fmt.Errorf("shared memory: descriptor is not a regular file of %d bytes (mode %o, %d bytes)", size, st.Mode, st.Size)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("shared memory: descriptor is not a memfd: %w", err)
	}
	if seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_GROW) != unix.F_SEAL_SHRINK|unix.F_SEAL_GROW {
		return nil, fmt.Errorf("shared memory: the memfd is not sealed against resizing (seals %#x)", seals)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shared memory: mmap: %w", err)
	}
	return mem, nil
}

// UnmapArena unmaps what CreateArena or MapArena mapped.
func UnmapArena(mem []byte) { _ = unix.Munmap(mem) }

// CloseFD closes a descriptor of an arena.
func CloseFD(fd int) { _ = unix.Close(fd) }

// Rights is the control message that passes fd (SCM_RIGHTS).
func Rights(fd int) []byte { return unix.UnixRights(fd) }

// ParseRights returns the descriptors that the control messages oob
// carried; it closes them and fails if they are not exactly one, or if the
// kernel cut them (truncated).
func ParseRights(oob []byte, truncated bool) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1, fmt.Errorf("shared memory: control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return -1, fmt.Errorf("shared memory: control message: %w", err)
		}
		fds = append(fds, got...)
	}
	if len(fds) != 1 || truncated {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("shared memory: %d descriptors came with the token, want 1", len(fds))
	}
	return fds[0], nil
}

// RightsSpace is the room for the control message of two descriptors:
// one more than a host sends, to tell a second apart.
func RightsSpace() int { return unix.CmsgSpace(2 * 4) }
