package host

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/wire"
)

// The host dials a data-plane socket only where the worker could not point
// it elsewhere: a unix socket path (not an abstract name) directly inside
// the private directory go-plugin made for this worker, a directory that
// is no symlink, belongs to the host's user and that nobody else may write;
// the path itself must be a socket (no symlink) of the host's user. Once
// connected, and before the token is written, the peer must be the worker
// process itself (SO_PEERCRED, where the system has it): a socket swapped
// between the check and the connect is caught there. Any failure makes the
// host use the gRPC stream; it says why in its log.

// dataPlanePeer is what the host knows of the worker for these checks.
type dataPlanePeer struct {
	dir string // go-plugin's socket directory of the worker
	pid int    // the worker's process id; 0 skips the peer check
}

// dialDataPlane checks the address a worker advertised, connects and
// presents the token, with the descriptor of arena's memory shmFD when
// arena is not nil: the worker then answers whether it mapped it. The
// transport owns an arena the worker mapped (it closes it at its end);
// any other is closed here, and the transport has none.
func dialDataPlane(ctx context.Context, addr string, token []byte, lim wire.Limits, peer dataPlanePeer, arena *wire.Arena, shmFD int, spin time.Duration, log hclog.Logger) (_ *socketTransport, err error) {
	defer func() {
		if err != nil && arena != nil { // nil once declined: closed already
			arena.Close()
		}
	}()
	path, err := checkDataPlaneAddr(addr, peer.dir)
	if err != nil {
		return nil, err
	}
	if len(token) != wire.DataPlaneTokenLen {
		return nil, fmt.Errorf("data plane token of %d bytes, want %d", len(token), wire.DataPlaneTokenLen)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	c := nc.(*net.UnixConn)
	if err := checkPeer(c, peer.pid); err != nil {
		c.Close()
		return nil, fmt.Errorf("data plane socket %s: %w", path, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := writeToken(c, token, arena, shmFD); err != nil {
		c.Close()
		return nil, err
	}
	if arena != nil {
		mapped, err := readShmAck(c)
		if err != nil {
			c.Close()
			return nil, err
		}
		if !mapped {
			log.Warn("the worker declined shared memory; its data plane socket goes on without it (its log says why)", "address", addr)
			arena.Close()
			arena = nil
		}
	}
	_ = c.SetDeadline(time.Time{})
	t, err := newSocketTransport(c, lim, spin)
	if err != nil {
		return nil, err
	}
	t.arena = arena
	return t, nil
}

// readShmAck reads the worker's answer to an arena: whether it mapped it.
// Anything but one byte of wire.ShmMapped or wire.ShmDeclined before the
// deadline is an error: a worker that does not speak the protocol.
func readShmAck(c *net.UnixConn) (bool, error) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return false, fmt.Errorf("the worker listed shared memory, but did not answer the arena: %w", err)
	}
	switch b[0] {
	case wire.ShmMapped:
		return true, nil
	case wire.ShmDeclined:
		return false, nil
	}
	return false, fmt.Errorf("the worker answered the arena with %#x, neither mapped (1) nor declined (0)", b[0])
}

// writeToken writes the token, and with it (in the same sendmsg) the
// arena's descriptor when there is an arena.
func writeToken(c *net.UnixConn, token []byte, arena *wire.Arena, shmFD int) error {
	if arena == nil {
		_, err := c.Write(token)
		return err
	}
	n, _, err := c.WriteMsgUnix(token, wire.Rights(shmFD), nil)
	if err == nil && n < len(token) {
		_, err = c.Write(token[n:])
	}
	return err
}

// checkDataPlaneAddr returns the path of a "unix:" address once it has
// checked that it is a socket of the host's user directly inside dir, a
// private directory of the host's user.
func checkDataPlaneAddr(addr, dir string) (string, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return "", fmt.Errorf("unsupported data plane address %q", addr)
	}
	if path == "" || path[0] == '@' || strings.IndexByte(path, 0) >= 0 {
		return "", fmt.Errorf("data plane address %q is not a socket path (abstract names are refused)", addr)
	}
	if dir == "" {
		return "", fmt.Errorf("data plane address %q: the worker's socket directory is unknown", addr)
	}
	if !filepath.IsAbs(path) || filepath.Clean(path) != path || filepath.Dir(path) != filepath.Clean(dir) {
		return "", fmt.Errorf("data plane address %q is not in the worker's socket directory %s", addr, dir)
	}
	uid := uint32(os.Getuid())
	st, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("worker socket directory: %w", err)
	}
	if !st.IsDir() || st.Mode().Perm()&0o022 != 0 || owner(st) != uid {
		return "", fmt.Errorf("worker socket directory %s (%s) is not a private directory of uid %d", dir, st.Mode(), uid)
	}
	st, err = os.Lstat(path)
	if err != nil {
		return "", fmt.Errorf("data plane socket: %w", err)
	}
	if st.Mode().Type() != os.ModeSocket || owner(st) != uid {
		return "", fmt.Errorf("data plane address %q is not a socket of uid %d (%s)", addr, uid, st.Mode())
	}
	return path, nil
}

// owner is the uid that owns the file st describes.
func owner(st os.FileInfo) uint32 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Uid
	}
	return ^uint32(0)
}

// dialSocket connects to the data-plane socket the worker advertised in
// info, in the socket directory go-plugin made for it.
// With shared memory configured and a worker that takes it, it makes the
// connection's arena and passes it with the token.
func (p *Process) dialSocket(ctx context.Context, info *Info) (*socketTransport, error) {
	var arena *wire.Arena
	fd := -1
	if size := p.cfg.sharedMemory(); size > 0 && slices.Contains(info.Features, wire.FeatureSharedMemory) {
		mem, mfd, err := wire.CreateArena(size)
		if err != nil {
			p.cfg.Logger.Warn("no shared memory for the worker's data plane", "worker", p.cfg.Name, "error", err)
		} else {
			fd = mfd
			defer wire.CloseFD(fd) // the mapping and the worker's copy keep the memory
			arena = wire.NewArena(mem, wire.UnmapArena, info.Methods, wire.NewLimits(p.cfg.MaxMessage).Payload)
		}
	}
	return dialDataPlane(ctx, info.dataPlane, info.dataPlaneToken, wire.NewLimits(p.cfg.MaxMessage),
		dataPlanePeer{dir: p.run.sockDir, pid: p.run.pid}, arena, fd, p.cfg.IdleSpin, p.cfg.Logger.With("worker", p.cfg.Name))
}
