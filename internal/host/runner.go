package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin/runner"
	"github.com/workestrator/workestrator/internal/wire"
	"golang.org/x/sys/unix"
)

// procRunner is the go-plugin runner of one worker process. It owns the
// process: its own pipes (so that a grandchild holding them cannot block the
// wait), a process group (so that stopping takes the grandchildren too),
// the lifeline pipe the worker watches, and the reading of its stderr.
//
// Signals go through the *os.Process (a pidfd), except the SIGKILL of the
// process group, which is sent only while the worker is known not to be
// reaped: its pid, which is the group's id, cannot be anyone else's then.
type procRunner struct {
	cfg      *LaunchConfig
	exe      *executable
	cmd      *exec.Cmd
	stdoutR  *os.File
	stderrR  *os.File
	lifeline *os.File // host's write end; closing it asks the worker to exit
	// deathR and deathW are the ends of the pipe whose read end the worker
	// inherits and the host keeps armed (armDeathline) while the worker
	// lives: closed only by reap, or by the host's death; nil when it could
	// not be armed.
	deathR, deathW *os.File
	deathOnce      sync.Once
	sockDir        string
	stderr         *stderrLog

	exited chan struct{} // closed once the process is reaped
	status wire.ExitStatus
	pid    int

	mu     sync.Mutex
	reaped bool // the pid may belong to another process now

	stdoutDone chan struct{} // closed when go-plugin read stdout to its end
	stderrDone chan struct{} // closed when stderr was read to its end
	hurry      chan struct{} // closed by Stop: end the drain of the pipes now
	hurryOnce  sync.Once
	released   chan struct{} // closed when the pipes are closed and read
}

// eofReader closes done when a read fails (EOF or closed pipe).
type eofReader struct {
	io.Reader
	done chan struct{}
	once sync.Once
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.Reader.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.done) })
		if errors.Is(err, os.ErrClosed) {
			// The runner closed the pipe after the drain: the end of the
			// output, not an error to report (go-plugin's scanner logs
			// any error but EOF).
			err = io.EOF
		}
	}
	return n, err
}

// doneReader is what go-plugin reads as the worker's stderr: nothing, and
// EOF once the runner has read the real stderr to its end.
type doneReader struct{ done <-chan struct{} }

func (d doneReader) Read([]byte) (int, error) {
	<-d.done
	return 0, io.EOF
}

func (d doneReader) Close() error { return nil }

var _ runner.Runner = (*procRunner)(nil)

// prepare builds the command from the launch config and go-plugin's spec
// (environment with the handshake variables).
func (r *procRunner) prepare(spec *exec.Cmd, sockDir string) (runner.Runner, error) {
	cmd := exec.Command(r.exe.path, r.cfg.Args...)
	cmd.Path = r.exe.execPath()
	cmd.Dir = r.exe.dir
	// go-plugin's spec holds the host environment (unless SkipHostEnv)
	// and its own variables; the configured ones come last so that they
	// win.
	env := spec.Env
	if r.cfg.SkipHostEnv {
		env = append(allowedHostEnv(r.cfg.HostEnv), env...)
	}
	cmd.Env = append(append(env, r.cfg.Env...), wire.EnvLifelineFD+"=3")
	if r.cfg.RawBytes {
		cmd.Env = append(cmd.Env, wire.EnvRawBytes+"=1")
	}
	if r.exe.file != nil {
		cmd.Env = append(cmd.Env, wire.EnvExeFD+"="+strconv.Itoa(exeFD))
	}
	if r.cfg.LogLevel != "" {
		cmd.Env = append(cmd.Env, wire.EnvLogLevel+"="+r.cfg.LogLevel)
	}
	if r.cfg.KillTimeout > 0 {
		cmd.Env = append(cmd.Env, wire.EnvKillTimeout+"="+r.cfg.KillTimeout.String())
	}
	if !r.cfg.useSocket() {
		cmd.Env = append(cmd.Env, wire.EnvDataPlane+"="+wire.DataPlaneGRPC)
	} else if n := r.cfg.sharedMemory(); n > 0 {
		cmd.Env = append(cmd.Env, wire.EnvSharedMemory+"="+strconv.Itoa(n))
	}
	if r.cfg.MaxMessage > 0 {
		cmd.Env = append(cmd.Env, wire.EnvMaxMessage+"="+strconv.Itoa(r.cfg.MaxMessage))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd = cmd
	r.sockDir = sockDir
	r.exited = make(chan struct{})
	r.stdoutDone = make(chan struct{})
	r.stderrDone = make(chan struct{})
	r.hurry = make(chan struct{})
	r.released = make(chan struct{})
	return r, nil
}

// started reports whether the process was started.
func (r *procRunner) started() bool { return r.pid > 0 }

func (r *procRunner) Start(context.Context) error {
	defer r.exe.close() // the worker has its own descriptor now
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
	deathR, deathW, err := pipe()
	if err != nil {
		return fail(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = stdoutW, stderrW
	r.cmd.ExtraFiles = []*os.File{lifeR}
	if r.exe.file != nil {
		r.cmd.ExtraFiles = append(r.cmd.ExtraFiles, r.exe.file) // fd exeFD
	}
	r.cmd.ExtraFiles = append(r.cmd.ExtraFiles, deathR) // no worker reads it
	if err := r.cmd.Start(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if interp := missingInterpreter(r.exe.path); interp != "" {
				err = fmt.Errorf("its interpreter %s (its #! line) does not exist: %w", interp, err)
			}
		}
		return fail(fmt.Errorf("start worker %s: %w", r.exe.path, err))
	}
	stdoutW.Close()
	stderrW.Close()
	lifeR.Close()
	r.stdoutR, r.stderrR, r.lifeline = stdoutR, stderrR, lifeW
	r.pid = r.cmd.Process.Pid
	if armDeathline(deathR, r.pid) {
		r.deathR, r.deathW = deathR, deathW
	} else {
		deathR.Close()
		deathW.Close()
	}
	go r.readStderr()
	go r.reap()
	if r.cfg.OnStart != nil && !r.cfg.OnStart(r.pid, r.kill) {
		r.kill()
	}
	return nil
}

// readStderr re-logs the worker's stderr until its end or until the pipe
// is closed.
func (r *procRunner) readStderr() {
	defer close(r.stderrDone)
	r.stderr.run(r.stderrR)
}

// reap waits for the process to end without reaping it, SIGKILLs its
// process group (what it left behind) while its pid is still its own,
// reaps it, then lets the pipes drain: until both reach their end, Stop
// hurries it, or KillTimeout passes (a process outside the group may hold
// them forever); then it closes them.
func (r *procRunner) reap() {
	var info unix.Siginfo
	var err error
	for {
		err = unix.Waitid(unix.P_PID, r.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	r.mu.Lock()
	r.closeDeathline() // while its pid is not reusable
	if err == nil {
		// A zombie now: its pid and its group's id are not reusable yet.
		_ = syscall.Kill(-r.pid, syscall.SIGKILL)
	} else {
		// Reaped by someone else (SIGCHLD ignored, a zombie reaper as
		// PID 1): the group's id stays taken while the group has members,
		// and the pidfd refuses a process that is gone.
		_ = syscall.Kill(-r.pid, syscall.SIGKILL)
		_ = r.cmd.Process.Kill()
	}
	r.reaped = true
	r.mu.Unlock()
	werr := r.cmd.Wait()
	r.status = exitStatus(r.cmd.ProcessState, werr)
	r.lifeline.Close()
	close(r.exited)

	t := time.NewTimer(r.cfg.killTimeout())
	defer t.Stop()
	for _, done := range []chan struct{}{r.stderrDone, r.stdoutDone} {
		select {
		case <-done:
		case <-r.hurry:
		case <-t.C:
		}
	}
	r.stdoutR.Close()
	r.stderrR.Close()
	<-r.stderrDone
	close(r.released)
}

// exitStatus says how a process ended from its state, or -1 when its wait
// failed (the process was reaped by someone else).
func exitStatus(st *os.ProcessState, err error) wire.ExitStatus {
	if st == nil {
		return wire.ExitStatus{Code: -1, Signal: "unknown (" + err.Error() + ")"}
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return wire.ExitStatus{Code: -1, Signal: ws.Signal().String()}
	}
	return wire.ExitStatus{Code: st.ExitCode()}
}

// kill SIGKILLs the worker's process group and the worker, unless it was
// reaped already (its group was killed then). It never blocks for long and
// is safe to call at any time, from any goroutine.
func (r *procRunner) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reaped || r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.pid, syscall.SIGKILL)
	_ = r.cmd.Process.Kill() // through the pidfd: in case it left its group
}

// terminate asks the worker to exit: the lifeline closes, SIGTERM.
func (r *procRunner) terminate() {
	r.lifeline.Close()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
}

// closeDeathline disarms the death pipe and closes its ends, once.
func (r *procRunner) closeDeathline() {
	r.deathOnce.Do(func() {
		if r.deathR != nil {
			disarmDeathline(r.deathR)
			r.deathW.Close()
			r.deathR.Close()
		}
	})
}

// release ends the drain of the pipes by deadline at the latest, and
// returns once the pipes are closed and the stderr reader has ended.
func (r *procRunner) release(deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-r.released:
		return
	case <-t.C:
	}
	r.hurryOnce.Do(func() { close(r.hurry) })
	<-r.released
}

// Wait waits for the process to end. It returns nil whatever the exit
// status: the farm reports deaths itself, with their context.
func (r *procRunner) Wait(context.Context) error {
	<-r.exited
	return nil
}

// Kill sends SIGKILL to the worker's process group.
func (r *procRunner) Kill(context.Context) error {
	r.kill()
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser {
	return io.NopCloser(&eofReader{Reader: r.stdoutR, done: r.stdoutDone})
}
func (r *procRunner) Stderr() io.ReadCloser { return doneReader{r.stderrDone} }
func (r *procRunner) Name() string          { return r.cfg.Name }
func (r *procRunner) ID() string            { return strconv.Itoa(r.pid) }

func (r *procRunner) Diagnose(context.Context) string {
	return "the file is not a Workestrator worker, or it failed before the handshake"
}

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

// missingInterpreter returns the interpreter that the #! line of the
// script at path names when that does not exist, else "": exec reports
// it as the script's own absence.
func missingInterpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 256)
	n, _ := io.ReadFull(f, b)
	line, ok := bytes.CutPrefix(b[:n], []byte("#!"))
	if !ok {
		return ""
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return ""
	}
	if _, err := os.Stat(fields[0]); errors.Is(err, fs.ErrNotExist) {
		return fields[0]
	}
	return ""
}
