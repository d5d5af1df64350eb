package farm

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lockHolderEnv makes the test binary a lock holder: a host of another pid
// namespace (its pid, noPID, exists nowhere here) with one socket directory.
const lockHolderEnv = "WORKESTRATOR_TEST_LOCK_HOLDER"

// noPID is above the largest pid Linux gives (2^22).
const noPID = 1<<22 + 7

func init() {
	tmp := os.Getenv(lockHolderEnv)
	if tmp == "" {
		return
	}
	key, _, err := lockHost(tmp, noPID)
	if err == nil {
		err = os.Mkdir(filepath.Join(tmp, "workestrator-"+key+"-1"), 0o700)
	}
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(2)
	}
	os.Stdout.WriteString(key + "\n")
	// Live until the test closes stdin.
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// A live host's directory survives the cleaner even when its pid looks
// dead from here; it goes once the host exits. A dead host's goes at once.
func TestStaleSocketDirsFollowTheHostLock(t *testing.T) {
	tmp := t.TempDir()
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), lockHolderEnv+"="+tmp)
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = holder.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		t.Fatalf("holder: %q, %v", line, err)
	}
	live := filepath.Join(tmp, "workestrator-"+strings.TrimSpace(line)+"-1")

	// A dead host: its lock file is there, unlocked.
	deadKey, f, err := lockHost(tmp, noPID+1)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	dead := filepath.Join(tmp, "workestrator-"+deadKey+"-2")
	// A directory whose lock file is gone.
	lost := filepath.Join(tmp, "workestrator-"+"12-0123456789abcdef-3")
	other := filepath.Join(tmp, "workestrator-fixtures-4") // not a socket directory
	for _, d := range []string{dead, lost, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	removeStaleIn(tmp, nil)
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	if !exists(live) {
		t.Fatal("the live host's directory was removed")
	}
	for _, d := range []string{dead, lockPath(tmp, deadKey), lost} {
		if exists(d) {
			t.Errorf("%s survives the cleaner", d)
		}
	}
	if !exists(other) {
		t.Error("a directory of another kind was removed")
	}

	stdin.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	removeStaleIn(tmp, nil)
	if exists(live) {
		t.Error("the directory of a host that exited survives the cleaner")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, ".workestrator-*")); len(left) != 0 {
		t.Errorf("lock files left: %v", left)
	}
}

// The lock file goes with the last socket directory: nothing of the host
// is left in its temporary directory.
func TestLockFileRemovedWithTheLastSocketDir(t *testing.T) {
	skipIfHostLocked(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir, err := makeSocketDir()
	if err != nil {
		t.Fatal(err)
	}
	if locks, _ := filepath.Glob(filepath.Join(tmp, ".workestrator-*.lock")); len(locks) != 1 {
		t.Fatalf("lock files while a directory lives: %v", locks)
	}
	removeSocketDir(dir)
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("left in TMPDIR after the last directory: %v", left)
	}
}

// skipIfHostLocked skips a test of the host lock while a farm of this
// process holds it.
func skipIfHostLocked(t *testing.T) {
	hostLock.mu.Lock()
	busy := hostLock.dirs
	hostLock.mu.Unlock()
	if busy != 0 {
		t.Skip("another farm of this process holds the host lock")
	}
}
