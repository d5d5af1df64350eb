package farm

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// On a disk, the sockets go to a private directory on a tmpfs that the
// socket directory links to; both go with the farm's directory.
func TestSocketsOnTmpfs(t *testing.T) {
	hostLock.mu.Lock()
	busy := hostLock.dirs
	hostLock.mu.Unlock()
	if busy != 0 {
		t.Skip("another farm of this process holds the host lock")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	base := fastSocketBase(tmp)
	if base == "" {
		t.Skipf("no tmpfs beside %s (or it is one)", tmp)
	}
	sd, err := makeSocketDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(sd.sockets) != base || !onTmpfs(sd.sockets) {
		t.Fatalf("sockets in %s, want a directory of %s", sd.sockets, base)
	}
	if st, err := os.Stat(sd.sockets); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("sockets directory: %v, %v", st, err)
	}
	if l, err := os.Readlink(filepath.Join(sd.dir, socketsLink)); err != nil || l != sd.sockets {
		t.Errorf("%s links to %q, %v", sd.dir, l, err)
	}
	if l, err := os.Readlink(filepath.Join(sd.sockets, ownerLink)); err != nil || l != hostLock.path {
		t.Errorf("owner link %q, %v; want %s", l, err, hostLock.path)
	}
	removeSocketDir(sd)
	for _, d := range []string{sd.dir, sd.sockets} {
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", d, err)
		}
	}
}

// The cleaner removes a dead host's sockets directory on the tmpfs with its
// socket directory, and one left unlinked when its lock file says the host
// is gone; it keeps those of live hosts, those with no owner yet, and those
// whose lock file it cannot see (another mount namespace).
func TestStaleFastSocketDirs(t *testing.T) {
	tmp, base := t.TempDir(), t.TempDir()
	deadKey, f, err := lockHost(tmp, noPID+1)
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // dead: its lock file is there, unlocked
	liveKey, live, err := lockHost(tmp, noPID+2)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	mk := func(name, owner string) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.Symlink(owner, filepath.Join(d, ownerLink)); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }

	unlinked := mk("workestrator-"+deadKey+"-1", lockPath(tmp, deadKey))
	alive := mk("workestrator-"+liveKey+"-2", lockPath(tmp, liveKey))
	linked := mk("workestrator-"+deadKey+"-3", "") // no owner yet: only its link removes it
	elsewhere := mk("workestrator-12-0123456789abcdef-4", "/nowhere/.workestrator-12-0123456789abcdef.lock")
	removeStaleFastIn(base)
	if exists(unlinked) {
		t.Error("a dead host's unlinked sockets directory survives")
	}
	for _, d := range []string{alive, linked, elsewhere} {
		if !exists(d) {
			t.Errorf("%s was removed", d)
		}
	}

	dir := filepath.Join(tmp, "workestrator-"+deadKey+"-5")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(linked, filepath.Join(dir, socketsLink)); err != nil {
		t.Fatal(err)
	}
	removeStaleIn(tmp)
	if exists(linked) || exists(dir) {
		t.Error("the dead host's sockets directory survives its socket directory's cleaning")
	}
	if !exists(alive) {
		t.Error("the live host's sockets directory was removed")
	}
}

// A FIFO in a lock file's place neither blocks the cleaner nor counts as
// a dead host's lock.
func TestStaleCleanerSkipsAFIFOLock(t *testing.T) {
	tmp := t.TempDir()
	key := "12-0123456789abcdef"
	if err := syscall.Mkfifo(lockPath(tmp, key), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "workestrator-"+key+"-1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		removeStaleIn(tmp)
		removeStaleFastIn(tmp)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the cleaner blocks on a FIFO")
	}
	if _, err := os.Lstat(dir); err != nil {
		t.Errorf("the directory of a host whose lock is a FIFO was removed: %v", err)
	}
}
