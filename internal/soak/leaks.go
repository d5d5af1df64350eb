package soak

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// baseline is what the process holds before the farm exists.
type baseline struct {
	goroutines, fds, children int
	dirs                      []string
}

func takeBaseline() baseline {
	return baseline{
		goroutines: runtime.NumGoroutine(),
		fds:        countFDs(),
		dirs:       socketDirs(),
		children:   len(testutil.Children(os.Getpid())),
	}
}

// leaks is what the process holds after Kill.
type leaks struct {
	goroutines, fds int
	alive, pids     int // worker processes still alive, of those forked
	dirs            int // socket directories more than before
	procs           int // processes of the soak's binaries left
}

// checkLeaks checks, with bounded waits, that after Kill no worker process
// is alive, no child process is left, no socket directory, and no more
// goroutines and file descriptors than before farm.New.
func (r *run) checkLeaks() {
	rep, base := r.rep, r.base
	r.evs.mu.Lock()
	pids := append([]int(nil), r.evs.pids...)
	r.evs.mu.Unlock()
	var alive []int
	if !testutil.WaitFor(2*time.Second, func() bool {
		// A pid still alive but no longer our child was reused by the
		// system (pid_max can be small): only our children count.
		kids := testutil.Children(os.Getpid())
		alive = alive[:0]
		for _, p := range pids {
			if testutil.Alive(p) && slices.Contains(kids, p) {
				alive = append(alive, p)
			}
		}
		return len(alive) == 0
	}) {
		rep.violate("worker processes alive after Kill: %v", alive)
	}
	var kids []int
	if !testutil.WaitFor(2*time.Second, func() bool {
		kids = testutil.Children(os.Getpid())
		return len(kids) <= base.children
	}) {
		rep.violate("child processes after Kill: %v (%d before New)", kids, base.children)
	}
	if dirs := socketDirs(); len(dirs) > len(base.dirs) {
		rep.violate("socket directories left after Kill: %v", dirs)
	}
	var goroutines, fds int
	if !testutil.WaitFor(5*time.Second, func() bool {
		goroutines = runtime.NumGoroutine()
		return goroutines <= base.goroutines
	}) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		rep.violate("goroutines: %d before New, %d 5s after Kill:\n%s", base.goroutines, goroutines, buf)
	}
	if !testutil.WaitFor(5*time.Second, func() bool {
		fds = countFDs()
		return fds <= base.fds
	}) {
		rep.violate("file descriptors: %d before New, %d 5s after Kill: %s", base.fds, fds, fdList())
	}
	// No process of the soak's binaries is left anywhere: the workers of
	// an agent that was killed are not the soak's children.
	bins := []string{r.cfg.Worker, r.reloadTo, r.cfg.AgentBin}
	var left []string
	if !testutil.WaitFor(5*time.Second, func() bool {
		left = processesOf(bins)
		return len(left) == 0
	}) {
		rep.violate("processes of the soak's binaries left 5s after Kill: %s", strings.Join(left, ", "))
	}
	r.leaks = leaks{goroutines: goroutines, fds: fds, alive: len(alive), pids: len(pids),
		dirs: len(socketDirs()) - len(base.dirs), procs: len(left)}
}

// processesOf describes the processes running one of the binaries, as
// their /proc/PID/exe says: "PID (PATH)".
func processesOf(bins []string) []string {
	var infos []os.FileInfo
	for _, b := range bins {
		if b == "" {
			continue
		}
		if fi, err := os.Stat(b); err == nil {
			infos = append(infos, fi)
		}
	}
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fi, err := os.Stat(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue // gone, a zombie, or not ours to read
		}
		for _, b := range infos {
			if os.SameFile(fi, b) {
				exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
				out = append(out, fmt.Sprintf("%d (%s)", pid, exe))
				break
			}
		}
	}
	return out
}

func effKillTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return farm.DefaultKillTimeout
	}
	return d
}

// countFDs counts the process's open file descriptors.
func countFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}

// fdList describes the open file descriptors, for a leak report.
func fdList() string {
	es, _ := os.ReadDir("/proc/self/fd")
	var parts []string
	for _, e := range es {
		l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		parts = append(parts, e.Name()+"="+l)
	}
	return strings.Join(parts, " ")
}

// SocketDirs returns the farm socket directories of process pid,
// $TMPDIR/workestrator-<pid>-*, and their sockets' directories of the same
// name on a tmpfs ($XDG_RUNTIME_DIR, /dev/shm).
func SocketDirs(pid int) []string {
	var dirs []string
	for _, base := range []string{os.TempDir(), os.Getenv("XDG_RUNTIME_DIR"), "/dev/shm"} {
		if base == "" {
			continue
		}
		m, _ := filepath.Glob(filepath.Join(base, "workestrator-"+strconv.Itoa(pid)+"-*"))
		dirs = append(dirs, m...)
	}
	return dirs
}

func socketDirs() []string { return SocketDirs(os.Getpid()) }

// copyWorker copies the worker binary at path into dir, for a Reload: done
// before the farm forks any worker, for a file still open for writing in a
// child being forked cannot be executed (ETXTBSY).
func copyWorker(path, dir string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	to := filepath.Join(dir, "worker")
	return to, os.WriteFile(to, b, 0o755)
}
