package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin/runner"
)

// ErrChecksumMismatch: the worker binary does not match the configured
// SHA-256 checksum; it was not started.
var ErrChecksumMismatch = errors.New("worker binary checksum mismatch")

// ExitStatus says how a worker process ended.
type ExitStatus struct {
	// Code is the exit status, or -1 when a signal ended the process.
	Code int
	// Signal names the signal that ended the process, e.g. "killed"; empty
	// for a normal exit.
	Signal string
}

// String returns "exit status 2" or "signal: killed".
func (s ExitStatus) String() string {
	if s.Signal != "" {
		return "signal: " + s.Signal
	}
	return "exit status " + strconv.Itoa(s.Code)
}

// procRunner is the go-plugin runner of one worker process. It owns the
// process: its own pipes (so that a grandchild holding them cannot block the
// wait), a process group (so that stopping takes the grandchildren too) and
// the lifeline pipe the worker watches.
type procRunner struct {
	cfg      *LaunchConfig
	cmd      *exec.Cmd
	stdoutR  *os.File
	stderrR  *os.File
	lifeline *os.File // host's write end; closing it asks the worker to exit
	sockDir  string

	exited chan struct{}
	status ExitStatus
	pid    int

	closePipes sync.Once
	stderrDone chan struct{} // closed when stderr has been read to its end
}

// eofReader closes done when a read fails (EOF or closed pipe).
type eofReader struct {
	io.ReadCloser
	done chan struct{}
	once sync.Once
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.done) })
	}
	return n, err
}

var _ runner.Runner = (*procRunner)(nil)

// prepare builds the command from the launch config and go-plugin's spec
// (environment with the handshake variables).
func (r *procRunner) prepare(spec *exec.Cmd, sockDir string) (runner.Runner, error) {
	cmd := exec.Command(r.cfg.Path, r.cfg.Args...)
	cmd.Dir = r.cfg.Dir
	// go-plugin's spec holds the host environment and its own variables;
	// the configured ones come last so that they win.
	cmd.Env = append(append(spec.Env, r.cfg.Env...), EnvLifelineFD+"=3")
	if r.cfg.LogLevel != "" {
		cmd.Env = append(cmd.Env, EnvLogLevel+"="+r.cfg.LogLevel)
	}
	if r.cfg.KillTimeout > 0 {
		cmd.Env = append(cmd.Env, EnvKillTimeout+"="+r.cfg.KillTimeout.String())
	}
	if !r.cfg.useSocket() {
		cmd.Env = append(cmd.Env, EnvDataPlane+"="+DataPlaneGRPC)
	}
	if r.cfg.MaxMessage > 0 {
		cmd.Env = append(cmd.Env, EnvMaxMessage+"="+strconv.Itoa(r.cfg.MaxMessage))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd = cmd
	r.sockDir = sockDir
	r.exited = make(chan struct{})
	r.stderrDone = make(chan struct{})
	return r, nil
}

func (r *procRunner) Start(context.Context) error {
	if len(r.cfg.Checksum) > 0 {
		if err := verifyChecksum(r.cfg.Path, r.cfg.Checksum); err != nil {
			return err
		}
	}
	var files []*os.File
	pipe := func() (*os.File, *os.File, error) {
		rd, wr, err := os.Pipe()
		if err == nil {
			files = append(files, rd, wr)
		}
		return rd, wr, err
	}
	fail := func(err error) error {
		for _, f := range files {
			f.Close()
		}
		return err
	}
	stdoutR, stdoutW, err := pipe()
	if err != nil {
		return fail(err)
	}
	stderrR, stderrW, err := pipe()
	if err != nil {
		return fail(err)
	}
	lifeR, lifeW, err := pipe()
	if err != nil {
		return fail(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = stdoutW, stderrW
	r.cmd.ExtraFiles = []*os.File{lifeR}
	if err := r.cmd.Start(); err != nil {
		return fail(fmt.Errorf("start worker %s: %w", r.cfg.Path, err))
	}
	stdoutW.Close()
	stderrW.Close()
	lifeR.Close()
	r.stdoutR, r.stderrR, r.lifeline = stdoutR, stderrR, lifeW
	r.pid = r.cmd.Process.Pid
	go r.wait()
	if r.cfg.OnStart != nil && !r.cfg.OnStart(r.pid) {
		_ = r.Kill(context.Background())
	}
	return nil
}

// wait reaps the process, records how it ended, and closes the read ends of
// its pipes shortly after, so that go-plugin's readers end even when a
// grandchild still holds the write ends.
func (r *procRunner) wait() {
	_ = r.cmd.Wait()
	st := r.cmd.ProcessState
	r.status = ExitStatus{Code: st.ExitCode()}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.status = ExitStatus{Code: -1, Signal: ws.Signal().String()}
	}
	r.lifeline.Close()
	close(r.exited)
	// Let the readers drain what the process wrote before it ended.
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	<-t.C
	r.closePipes.Do(func() {
		r.stdoutR.Close()
		r.stderrR.Close()
	})
}

// Wait waits for the process to end. It returns nil whatever the exit
// status: the farm reports deaths itself, with their context.
func (r *procRunner) Wait(context.Context) error {
	<-r.exited
	return nil
}

// Kill sends SIGKILL to the worker's process group.
func (r *procRunner) Kill(context.Context) error {
	if r.pid > 0 {
		_ = syscall.Kill(-r.pid, syscall.SIGKILL)
		_ = syscall.Kill(r.pid, syscall.SIGKILL)
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdoutR }
func (r *procRunner) Stderr() io.ReadCloser {
	return &eofReader{ReadCloser: r.stderrR, done: r.stderrDone}
}
func (r *procRunner) Name() string { return r.cfg.Name }
func (r *procRunner) ID() string   { return strconv.Itoa(r.pid) }

func (r *procRunner) Diagnose(context.Context) string {
	return "the file is not a Workestrator worker, or it failed before the handshake"
}

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

func verifyChecksum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%w: %s has sha256 %x, want %x", ErrChecksumMismatch, path, got, want)
	}
	return nil
}

// tail keeps the last lines a worker wrote on stderr, for start errors.
type tail struct {
	mu    sync.Mutex
	lines []string
	part  []byte
}

const tailLines = 8

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(t.part[:i])); line != "" {
			t.lines = append(t.lines, line)
			if len(t.lines) > tailLines {
				t.lines = t.lines[1:]
			}
		}
		t.part = t.part[i+1:]
	}
	if len(t.part) > 4096 {
		t.part = t.part[:0]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
