package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const (
	// prefix starts the name of everything this package makes.
	prefix = "wn"
	// nsDir is where `ip netns add` mounts the namespaces it names.
	nsDir = "/run/netns"
	// lockPath is the file whose flock serialises, across processes, the
	// sweep, the probe of Available and the choice of a lab's subnet.
	lockPath = "/run/workestrator-netns.lock"
	// maxIfName is the longest interface name Linux takes (IFNAMSIZ-1).
	maxIfName = 15
)

// ipPath returns the path of the ip command: the one on PATH, else the
// usual places, else "" if there is none.
var ipPath = sync.OnceValue(func() string {
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
})

// ip runs the ip command with args and returns an error that holds the
// command and what it printed if it fails.
func ip(args ...string) error {
	out, err := exec.Command(ipPath(), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// lock takes the cross-process lock at lockPath, blocking until it is
// free, and returns the function that releases it.
func lock() (unlock func(), err error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// name returns prefix, pid and the parts, the numbers in base 36, joined
// by "-" after the pid: name(pid, 3) is the bridge of lab 3 and
// name(pid, 3, 0) its first host.
func name(pid int, parts ...int) string {
	s := prefix + strconv.FormatInt(int64(pid), 36)
	for _, p := range parts {
		s += "-" + strconv.FormatInt(int64(p), 36)
	}
	return s
}

// probeName is the name of the namespace, veth and bridge (with "b") that
// Available makes: its capital P is in no name that name returns.
func probeName(pid int) string { return prefix + strconv.FormatInt(int64(pid), 36) + "-P" }

// owner returns the pid encoded in s, a name this package made, and false
// if s is not such a name.
func owner(s string) (pid int, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	p, tail, ok := strings.Cut(rest, "-")
	if !ok || tail == "" || strings.Trim(tail, "0123456789abcdefghijklmnopqrstuvwxyzP-") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(p, 36, 32)
	if err != nil || n <= 0 {
		return 0, false
	}
	return int(n), true
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')') // the state follows the command name
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// sweepOwn is done once per process, by the first sweep: until then no
// name with this process's pid is its own.
var sweepOwn sync.Once

// sweep deletes the links in the root namespace, then the namespaces,
// whose names this package made for a process that no longer runs, and
// on its first call those made for this process's pid, which an earlier
// process with the same pid left. It ignores failures (another process
// may be sweeping the same names) and runs under lock.
func sweep() {
	self := os.Getpid()
	own := false
	sweepOwn.Do(func() { own = true })
	stale := func(s string) bool {
		pid, ok := owner(s)
		return ok && ((own && pid == self) || (pid != self && !alive(pid)))
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if stale(i.Name) {
			_ = ip("link", "del", i.Name) // a veth's peer goes with it
		}
	}
	ents, _ := os.ReadDir(nsDir)
	for _, e := range ents {
		if stale(e.Name()) {
			_ = ip("netns", "del", e.Name())
		}
	}
}

// Available reports whether namespaces can be made here: the process is
// root, the ip command is present, and making a namespace, a veth pair
// into it and a bridge works (they are deleted at once). If not, why is a
// sentence for t.Skip or a log line. The check runs once per process;
// later calls return its result.
func Available() (ok bool, why string) {
	r := available()
	return r == "", r
}

var available = sync.OnceValue(func() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("netns: network namespaces need root (euid %d)", os.Geteuid())
	}
	if ipPath() == "" {
		return "netns: the ip command (iproute2) is not installed"
	}
	unlock, err := lock()
	if err != nil {
		return "netns: " + err.Error()
	}
	defer unlock()
	p := probeName(os.Getpid())
	err = ip("netns", "add", p)
	if err == nil {
		err = ip("link", "add", p, "type", "veth", "peer", "name", "eth0", "netns", p)
		if err == nil {
			err = ip("link", "add", p+"b", "type", "bridge")
			_ = ip("link", "del", p+"b")
			_ = ip("link", "del", p)
		}
		_ = ip("netns", "del", p)
	}
	if err != nil {
		return "netns: cannot make a network namespace with a veth and a bridge: " + err.Error()
	}
	return ""
})
