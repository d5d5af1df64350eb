package farm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Socket directories: every farm makes a private directory for its
// workers' sockets, $TMPDIR/workestrator-<pid>-<host>-<random>, and Kill
// removes it. A host that dies leaves its directories behind; the next New
// of any process removes them.
//
// When $TMPDIR is on a disk and a tmpfs is at hand (fastSocketBase), the
// sockets themselves go to a private directory of the same name there,
// which the first links to as "sockets" (for whoever looks; the cleaner
// never follows it) and which links to its host's lock file as ".owner".
// Kill removes both; a cleaner that takes a dead host's lock removes its
// directories of either kind by the host's random key.
//
// Whether a host is alive is not told by its pid, which may belong to
// another pid namespace (containers sharing a temporary directory) or to a
// new process. While a process has socket directories, it holds an
// exclusive flock on its lock file, $TMPDIR/.workestrator-<pid>-<host>.lock;
// the kernel releases it when the process ends, however it ends. A cleaner
// removes a host's directories only when it can take that lock itself,
// without waiting.

// hostLock is this process's lock, held while it has socket directories.
var hostLock struct {
	mu     sync.Mutex
	dirs   int      // socket directories made and not removed
	prefix string   // workestrator-<pid>-<host>-
	tmp    string   // the temporary directory of the lock and the directories
	file   *os.File // held (flocked) while dirs > 0
	path   string   // the lock file's name (file.Name() is its name before the rename)
}

// socketDir is a farm's socket directory: dir, in the temporary directory,
// and sockets, the directory its workers' sockets go to: dir, or the
// private directory on a tmpfs that dir links to.
type socketDir struct{ dir, sockets string }

// The links of a socket directory on a tmpfs: from the farm's directory to
// it, and from it to its host's lock file.
const (
	socketsLink = "sockets"
	ownerLink   = ".owner"
)

// makeSocketDir makes a new socket directory for a farm, taking the
// process's host lock first if it has no other.
func makeSocketDir() (socketDir, error) {
	hostLock.mu.Lock()
	defer hostLock.mu.Unlock()
	if hostLock.dirs == 0 {
		tmp := os.TempDir()
		key, f, err := lockHost(tmp, os.Getpid())
		if err != nil {
			return socketDir{}, err
		}
		hostLock.prefix, hostLock.tmp, hostLock.file, hostLock.path = "workestrator-"+key+"-", tmp, f, lockPath(tmp, key)
	}
	// Beside the lock, even if TMPDIR changed since it was taken.
	dir, err := os.MkdirTemp(hostLock.tmp, hostLock.prefix+"*")
	if err != nil {
		if hostLock.dirs == 0 {
			releaseHostLock()
		}
		return socketDir{}, err
	}
	hostLock.dirs++
	sd := socketDir{dir: dir, sockets: dir}
	if base := fastSocketBase(hostLock.tmp); base != "" {
		if fast, err := makeFastSocketDir(base, dir); err == nil {
			sd.sockets = fast
		}
	}
	return sd, nil
}

// maxFastSocketDir bounds the name of a socket directory on a tmpfs: a
// unix socket's name has at most 107 bytes, and go-plugin adds about 40.
const maxFastSocketDir = 64

// makeFastSocketDir makes the private directory of the sockets of dir on
// the tmpfs base, with its links.
func makeFastSocketDir(base, dir string) (string, error) {
	fast, err := os.MkdirTemp(base, hostLock.prefix+"*")
	if err != nil {
		return "", err
	}
	if len(fast) > maxFastSocketDir {
		err = errors.New("name too long for a unix socket's")
	}
	if err == nil {
		err = os.Symlink(hostLock.path, filepath.Join(fast, ownerLink))
	}
	if err == nil {
		err = os.Symlink(fast, filepath.Join(dir, socketsLink))
	}
	if err != nil {
		_ = os.RemoveAll(fast)
		return "", err
	}
	return fast, nil
}

// removeSocketDir removes a directory makeSocketDir made, and releases the
// host lock with the last one.
func removeSocketDir(sd socketDir) {
	hostLock.mu.Lock()
	defer hostLock.mu.Unlock()
	if sd.sockets != sd.dir {
		_ = os.RemoveAll(sd.sockets)
	}
	_ = os.RemoveAll(sd.dir)
	if hostLock.dirs--; hostLock.dirs == 0 {
		releaseHostLock()
	}
}

// releaseHostLock removes the lock file, then closes it (which unlocks).
func releaseHostLock() {
	_ = os.Remove(hostLock.path)
	hostLock.file.Close()
	hostLock.file, hostLock.prefix, hostLock.tmp, hostLock.path = nil, "", "", ""
}

// lockHost creates and flocks a lock file for a host of that pid in tmp and
// returns the host's key, "<pid>-<random hex>", with the open lock file. The
// file is locked under a temporary name and then renamed, so that no
// cleaner ever sees it unlocked.
func lockHost(tmp string, pid int) (string, *os.File, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := strconv.Itoa(pid) + "-" + hex.EncodeToString(b[:])
	f, err := os.CreateTemp(tmp, ".workestrator-tmp-*")
	if err != nil {
		return "", nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		_ = os.Remove(f.Name())
		return "", nil, err
	}
	if err := os.Rename(f.Name(), lockPath(tmp, key)); err != nil {
		f.Close()
		_ = os.Remove(f.Name())
		return "", nil, err
	}
	return key, f, nil
}

// lockPath is the lock file of the host with that key.
func lockPath(tmp, key string) string {
	return filepath.Join(tmp, ".workestrator-"+key+".lock")
}

// hostKey returns "<pid>-<host>" from a socket directory's name
// workestrator-<pid>-<host>-<random>, or "" for any other name (among
// them the directories of versions without a lock, which are left alone).
func hostKey(name string) string {
	rest, ok := strings.CutPrefix(name, "workestrator-")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 || !digits(parts[0]) || len(parts[1]) != 16 || !digits(parts[2]) {
		return ""
	}
	if _, err := hex.DecodeString(parts[1]); err != nil {
		return ""
	}
	return parts[0] + "-" + parts[1]
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// removeStaleSocketDirs removes the socket directories and lock files of
// the hosts that no longer run: those whose lock it can take at once, and
// directories whose lock file is gone.
func removeStaleSocketDirs() {
	tmp := os.TempDir()
	removeStaleIn(tmp, fastSocketBases())
	if base := fastSocketBase(tmp); base != "" {
		removeStaleFastIn(base)
	}
}

// removeOwnDir removes dir if it is a directory (not a link) of this
// process's user.
func removeOwnDir(dir string) {
	st, err := os.Lstat(dir)
	if err != nil || !st.IsDir() {
		return
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Geteuid() {
		return
	}
	_ = os.RemoveAll(dir)
}

// removeStaleFastIn removes the socket directories on the tmpfs base whose
// owner link names a lock file that is there and no longer held: those of
// a dead host whose temporary directory was not this one. A lock file that
// is not there may be in another mount namespace.
func removeStaleFastIn(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "workestrator-*-*-*"))
	for _, d := range dirs {
		key := hostKey(filepath.Base(d))
		if key == "" {
			continue
		}
		lock, err := os.Readlink(filepath.Join(d, ownerLink))
		if err != nil || filepath.Base(lock) != ".workestrator-"+key+".lock" {
			continue
		}
		f, err := openLock(lock)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			removeOwnDir(d)
		}
		f.Close()
	}
}

// removeStaleIn cleans the temporary directory tmp, and the tmpfs bases of
// the sockets: the directories of a host whose lock it takes go, in tmp and
// in the bases (its key is random: they are its own), then its lock.
func removeStaleIn(tmp string, bases []string) {
	locks, _ := filepath.Glob(filepath.Join(tmp, ".workestrator-*.lock"))
	for _, l := range locks {
		key := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(l), ".workestrator-"), ".lock")
		if strings.HasPrefix(key, "tmp-") {
			continue
		}
		f, err := openLock(l)
		if err != nil {
			continue
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) || err != nil {
			f.Close() // a live host holds it
			continue
		}
		// The host is gone: its directories first, then its lock, so that
		// a directory never outlives its lock while it is being removed.
		for _, base := range bases {
			fast, _ := filepath.Glob(filepath.Join(base, "workestrator-"+key+"-*"))
			for _, d := range fast {
				removeOwnDir(d)
			}
		}
		dirs, _ := filepath.Glob(filepath.Join(tmp, "workestrator-"+key+"-*"))
		for _, d := range dirs {
			_ = os.RemoveAll(d)
		}
		_ = os.Remove(l)
		f.Close()
	}
	// A host makes its lock before its directories: a directory without a
	// lock file is one a cleaner missed.
	dirs, _ := filepath.Glob(filepath.Join(tmp, "workestrator-*-*-*"))
	for _, d := range dirs {
		key := hostKey(filepath.Base(d))
		if key == "" {
			continue
		}
		if _, err := os.Lstat(lockPath(tmp, key)); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(d)
		}
	}
}

// openLock opens a lock file of a host to test its lock: a regular file,
// opened without blocking (a FIFO put in its place by another user would
// block an open) and without following a symlink.
func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, errors.New("not a regular file")
	}
	return f, nil
}
