// Package testutil builds the fixture worker binaries the tests need and
// offers helpers to wait for conditions and check processes.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]string{}
)

// moduleRoot returns the repository root, from this file's location.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build compiles the Go package pkg (a path relative to the module root,
// such as "./internal/testutil/fixtures/worker") once per process and
// returns the binary's path.
func Build(pkg string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p, nil
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "workestrator-fixtures-")
		if err != nil {
			return "", err
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static: a faster start
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out, nil
}

// MustBuild is Build for tests: it fails t on error.
func MustBuild(t testing.TB, pkg string) string {
	t.Helper()
	p, err := Build(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Cleanup removes the built binaries; call it at the end of TestMain.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildDir = ""
	built = map[string]string{}
}

// Worker is the package path of the main fixture worker.
const Worker = "./internal/testutil/fixtures/worker"

// Eventually polls cond every few milliseconds until it returns true, and
// fails t if that takes longer than timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !WaitFor(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// WaitFor polls cond until it returns true (true) or timeout passes (false).
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	st := State(pid)
	return st != 0 && st != 'Z'
}

// State returns the state letter of process pid in /proc (R, S, T, Z...),
// or 0 if it has none.
func State(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2]
	}
	return 0
}

// Freeze sends SIGSTOP to pid and waits until the process is stopped: a
// signal sent before the stop takes effect would otherwise be handled
// first (the kernel delivers lower signal numbers first).
func Freeze(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 5*time.Second, "the process stopped", func() bool { return State(pid) == 'T' })
}

// Children returns the pids of the live child processes of pid.
func Children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "%d", &p); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		var state byte
		var ppid int
		if _, err := fmt.Sscanf(s[i+2:], "%c %d", &state, &ppid); err == nil && ppid == pid && state != 'Z' {
			out = append(out, p)
		}
	}
	return out
}

// NoChildren fails t unless the test process has no live child process
// left within timeout.
func NoChildren(t testing.TB, timeout time.Duration) {
	t.Helper()
	var left []int
	if !WaitFor(timeout, func() bool {
		left = Children(os.Getpid())
		return len(left) == 0
	}) {
		t.Fatalf("child processes left behind: %v", left)
	}
}

// Main is the TestMain of a package whose tests run fixture workers: it
// builds each package of bins (a map from the variable that receives the
// binary's path to the package path), runs the tests, removes the binaries
// and fails the run if a goroutine was left behind. It returns the exit
// code for os.Exit.
func Main(m *testing.M, bins map[*string]string) int {
	for dst, pkg := range bins {
		p, err := Build(pkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			Cleanup()
			return 1
		}
		*dst = p
	}
	code := m.Run()
	Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	return code
}

// OpenFDs counts the file descriptors this process has open.
func OpenFDs(t testing.TB) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads: a log
// output that a test reads while the farm writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
