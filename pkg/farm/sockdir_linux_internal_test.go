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
	skipIfHostLocked(t)
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

// The cleaner, in its real order, removes a dead host's directories on
// the tmpfs with its lock, linked or not, and those whose owner link names
// a free lock file of another temporary directory; it keeps those of live
// hosts, those whose lock file it cannot see (another mount namespace),
// and those a planted link points to.
func TestStaleFastSocketDirs(t *testing.T) {
	tmp, other, base := t.TempDir(), t.TempDir(), t.TempDir()
	deadKey, f, err := lockHost(tmp, noPID+1)
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // dead: its lock file is there, unlocked
	otherKey, f, err := lockHost(other, noPID+3)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	liveKey, live, err := lockHost(tmp, noPID+2)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	mk := func(parent, name, owner string) string {
		d := filepath.Join(parent, name)
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

	linked := mk(base, "workestrator-"+deadKey+"-1", lockPath(tmp, deadKey))
	unowned := mk(base, "workestrator-"+deadKey+"-2", "") // died before its owner link
	dir := mk(tmp, "workestrator-"+deadKey+"-3", "")
	if err := os.Symlink(linked, filepath.Join(dir, socketsLink)); err != nil {
		t.Fatal(err)
	}
	alive := mk(base, "workestrator-"+liveKey+"-4", lockPath(tmp, liveKey))
	elsewhere := mk(base, "workestrator-12-0123456789abcdef-5", "/nowhere/.workestrator-12-0123456789abcdef.lock")
	otherTmp := mk(base, "workestrator-"+otherKey+"-6", lockPath(other, otherKey))
	planted := mk(tmp, "workestrator-13-0123456789abcdef-7", "") // no lock file: a cleaner missed it, or a plant
	if err := os.Symlink(alive, filepath.Join(planted, socketsLink)); err != nil {
		t.Fatal(err)
	}

	removeStaleIn(tmp, []string{base})
	removeStaleFastIn(base)
	for _, d := range []string{linked, unowned, dir, otherTmp, planted, lockPath(tmp, deadKey)} {
		if exists(d) {
			t.Errorf("%s survives the cleaner", d)
		}
	}
	for _, d := range []string{alive, elsewhere} {
		if !exists(d) {
			t.Errorf("%s was removed", d)
		}
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
		removeStaleIn(tmp, []string{tmp})
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
