package host

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// ErrChecksumMismatch: the worker binary does not match the configured
// SHA-256 checksum; it was not started.
var ErrChecksumMismatch = errors.New("worker binary checksum mismatch")

// exeFD is the descriptor of the checked executable in the worker process,
// which execs it: the lifeline is 3, the executable the next ExtraFile.
const exeFD = 4

// executable is the worker file a launch checks and runs.
type executable struct {
	path string // absolute
	dir  string // absolute working directory; "" for the host's
	// file is the checked file, open, when a checksum is set: the worker
	// execs /proc/self/fd/4, this very file, so that replacing the path
	// after the check cannot change what runs.
	file      *os.File
	closeOnce sync.Once
}

// ResolvePath makes dir absolute (relative to the host's working
// directory) and path absolute (relative to dir when set, else to the
// host's working directory): os/exec's rule with Cmd.Dir, made explicit; a
// path is never looked up in PATH. It touches no file. On error the path
// and dir are returned as they could be resolved, with an error naming
// which.
func ResolvePath(path, dir string) (string, string, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return path, dir, fmt.Errorf("worker Dir %s: %w", dir, err)
		}
		dir = abs
	}
	if path == "" || filepath.IsAbs(path) {
		return path, dir, nil
	}
	base := dir
	if base == "" {
		wd, err := os.Getwd()
		if err != nil {
			return path, dir, fmt.Errorf("worker binary %s: %w", path, err)
		}
		base = wd
	}
	return filepath.Join(base, path), dir, nil
}

// openExecutable resolves and checks the worker executable of a launch.
//
// The rule is os/exec's with Cmd.Dir, made explicit: a relative dir is
// relative to the host's working directory; a relative path is relative to
// dir when dir is set, else to the host's working directory. A path is
// never looked up in PATH. Both are resolved once, here, to absolute paths.
//
// With a checksum, the file is opened once, hashed through that
// descriptor, and the same descriptor is what the worker execs.
func openExecutable(path, dir string, sum []byte) (*executable, error) {
	if path == "" {
		return nil, errors.New("worker path is empty")
	}
	path, dir, err := ResolvePath(path, dir)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		st, err := os.Stat(dir)
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("worker Dir %s: %w", dir, err)
		case !st.IsDir():
			return nil, fmt.Errorf("worker Dir %s is not a directory", dir)
		}
	}
	e := &executable{path: path, dir: dir}
	if len(sum) == 0 {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("worker binary: %w", err)
		}
		return e, checkMode(path, st)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("worker binary: %w", err)
	}
	if err := checkFile(f, path, sum); err != nil {
		f.Close()
		return nil, err
	}
	e.file = f
	return e, nil
}

// checkFile checks the open file's kind, mode and checksum.
func checkFile(f *os.File, path string, want []byte) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("worker binary: %w", err)
	}
	if err := checkMode(path, st); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("worker binary %s: %w", path, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%w: %s has sha256 %x, want %x", ErrChecksumMismatch, path, got, want)
	}
	afterCheck(path)
	return nil
}

// afterCheck runs between the check and the exec; tests swap the file
// there.
var afterCheck = func(string) {}

func checkMode(path string, st fs.FileInfo) error {
	if st.IsDir() {
		return fmt.Errorf("worker binary %s is a directory", path)
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("worker binary %s is not executable (mode %s)", path, st.Mode().Perm())
	}
	return nil
}

// execPath is the path the worker process execs: the checked descriptor
// when there is one, which works for scripts too (the interpreter opens
// /proc/self/fd/4, still open in the worker).
func (e *executable) execPath() string {
	if e.file != nil {
		return fmt.Sprintf("/proc/self/fd/%d", exeFD)
	}
	return e.path
}

// close closes the host's descriptor of the checked file, once the worker
// has its own or will not start.
func (e *executable) close() {
	e.closeOnce.Do(func() {
		if e.file != nil {
			e.file.Close()
		}
	})
}
