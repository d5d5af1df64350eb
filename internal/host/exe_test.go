package host_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/testutil"
)

// install copies the binary src to dst, executable.
func install(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func sha256Of(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return s[:]
}

// runs checks that the process p runs the file of want.
func runs(t *testing.T, p *host.Process, want os.FileInfo) {
	t.Helper()
	got, err := os.Stat(fmt.Sprintf("/proc/%d/exe", p.PID()))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(got, want) {
		t.Fatalf("the worker runs another file than %s", want.Name())
	}
}

func statOf(t *testing.T, path string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func launchOrErr(t *testing.T, cfg host.LaunchConfig) (*host.Process, error) {
	t.Helper()
	cfg.Name, cfg.SocketDir = "worker-0", t.TempDir()
	p, err := host.Launch(context.Background(), cfg)
	if err == nil {
		t.Cleanup(func() { p.Stop(time.Second) })
	}
	return p, err
}

// The case: the checksum of ./bin/worker in the host's directory,
// a different program at Dir/bin/worker. A relative Path is Dir's, so
// that is the file checked: refused, never run unchecked.
func TestRelativePathChecksumWithDir(t *testing.T) {
	notWorker := testutil.MustBuild(t, "./internal/testutil/fixtures/notworker")
	hostDir, dir := t.TempDir(), t.TempDir()
	install(t, workerBin, filepath.Join(hostDir, "bin", "worker"))
	install(t, notWorker, filepath.Join(dir, "bin", "worker"))
	t.Chdir(hostDir)
	p, err := launchOrErr(t, host.LaunchConfig{
		Path: "bin/worker", Dir: dir, Checksum: sha256Of(t, filepath.Join(hostDir, "bin", "worker")),
	})
	if err == nil {
		runs(t, p, statOf(t, filepath.Join(hostDir, "bin", "worker")))
		return
	}
	if !errors.Is(err, host.ErrChecksumMismatch) {
		t.Fatalf("err = %v, want ErrChecksumMismatch (the file in Dir was checked and refused)", err)
	}
}

// A relative Path with Dir is checked and run in Dir, whatever the host's
// directory holds.
func TestRelativePathIsDirs(t *testing.T) {
	hostDir, dir := t.TempDir(), t.TempDir()
	install(t, workerBin, filepath.Join(dir, "bin", "worker"))
	t.Chdir(hostDir)
	for _, sum := range [][]byte{nil, sha256Of(t, filepath.Join(dir, "bin", "worker"))} {
		p, err := launchOrErr(t, host.LaunchConfig{Path: "bin/worker", Dir: dir, Checksum: sum})
		if err != nil {
			t.Fatalf("checksum %x: %v", sum, err)
		}
		runs(t, p, statOf(t, filepath.Join(dir, "bin", "worker")))
	}
}

// A missing Dir is an error that names Dir, not the binary.
func TestMissingDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	_, err := launchOrErr(t, host.LaunchConfig{Path: workerBin, Dir: missing})
	if err == nil || !strings.Contains(err.Error(), "Dir "+missing) || strings.Contains(err.Error(), "binary") {
		t.Fatalf("err = %v, want one naming Dir %s", err, missing)
	}
}

// Replacing the file between its check and its exec cannot change what
// runs: the checked descriptor is what the worker execs.
func TestChecksumSwapAfterCheck(t *testing.T) {
	notWorker := testutil.MustBuild(t, "./internal/testutil/fixtures/notworker")
	d := t.TempDir()
	path := filepath.Join(d, "worker")
	install(t, workerBin, path)
	install(t, notWorker, filepath.Join(d, "other"))
	checked := statOf(t, path)
	swapped := false
	defer host.SetAfterCheck(func(string) {
		swapped = os.Rename(filepath.Join(d, "other"), path) == nil
	})()
	p, err := launchOrErr(t, host.LaunchConfig{Path: path, Checksum: sha256Of(t, path)})
	if !swapped {
		t.Fatal("the file was not swapped")
	}
	if err != nil {
		t.Fatal(err)
	}
	runs(t, p, checked)
}

// A script with a #! line runs through the checked descriptor too.
func TestChecksumShebangScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), "worker.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec "+workerBin+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sum := range [][]byte{nil, sha256Of(t, script)} {
		p, got := startProc(t, host.LaunchConfig{Path: script, Checksum: sum, SkipHostEnv: true})
		var pid int
		callProc(t, p, got, &pid, "pid")
		if pid != p.PID() {
			t.Errorf("checksum %x: the worker answers with pid %d, the process is %d", sum, pid, p.PID())
		}
		p.Stop(time.Second)
	}
}

// The worker closes the descriptor of its checked executable once it runs:
// its own children do not inherit it.
func TestCheckedExecutableNotKeptOpen(t *testing.T) {
	p, got := startProc(t, host.LaunchConfig{Path: workerBin, Checksum: sha256Of(t, workerBin)})
	defer p.Stop(time.Second)
	var pid int
	callProc(t, p, got, &pid, "pid")
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if target == workerBin {
			t.Errorf("the worker keeps its executable open as fd %s", fd.Name())
		}
	}
}
