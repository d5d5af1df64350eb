package worker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// dataPlaneAuthTimeout bounds the wait for a connection's token.
const dataPlaneAuthTimeout = 10 * time.Second

// dataPlaneListener is the worker's side of the socket data plane.
type dataPlaneListener struct {
	l       *net.UnixListener
	path    string
	token   []byte
	claimed atomic.Bool
}

// listenDataPlane opens the worker's data-plane socket in the private
// directory go-plugin gives it (PLUGIN_UNIX_SOCKET_DIR); without one, it
// fails and the host uses the gRPC stream.
func listenDataPlane() (*dataPlaneListener, error) {
	dir := os.Getenv(wire.EnvSocketDir)
	if dir == "" {
		return nil, errors.New(wire.EnvSocketDir + " is not set")
	}
	var rnd [4 + wire.DataPlaneTokenLen]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "dp"+hex.EncodeToString(rnd[:4]))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The directory is private already; the token keeps out whoever could
	// connect before this.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return &dataPlaneListener{l: l, path: path, token: rnd[4:]}, nil
}

// serve accepts connections until one presents the token, closes the
// socket and serves the data plane on that connection with s.
func (d *dataPlaneListener) serve(s *server) {
	for {
		c, err := d.l.Accept()
		if err != nil {
			return
		}
		go d.auth(s, c)
	}
}

func (d *dataPlaneListener) auth(s *server, c net.Conn) {
	var got [wire.DataPlaneTokenLen]byte
	_ = c.SetReadDeadline(time.Now().Add(dataPlaneAuthTimeout))
	fd, err := readToken(c, got[:])
	if err != nil || subtle.ConstantTimeCompare(got[:], d.token) != 1 || !d.claimed.CompareAndSwap(false, true) {
		if fd >= 0 {
			wire.CloseFD(fd)
		}
		c.Close()
		return
	}
	d.l.Close() // removes the socket: nobody else can connect
	var arena []byte
	if fd >= 0 {
		// The host waits for the answer: 1, the arena is mapped; 0, the
		// connection goes on without one.
		arena = s.mapArena(fd)
		wire.CloseFD(fd)
		ack := []byte{wire.ShmDeclined}
		if arena != nil {
			ack[0] = wire.ShmMapped
		}
		_ = c.SetWriteDeadline(time.Now().Add(dataPlaneAuthTimeout))
		if _, err := c.Write(ack); err != nil {
			if arena != nil {
				wire.UnmapArena(arena)
			}
			c.Close()
			return
		}
		_ = c.SetWriteDeadline(time.Time{})
	}
	_ = c.SetReadDeadline(time.Time{})
	s.serveConn(c, arena)
}

// mapArena maps the arena the host passed as fd, a sealed memfd of
// s.shmSize bytes; nil when the worker was given no arena size or the
// mapping fails (the worker then declines the arena, and says why in its
// log).
func (s *server) mapArena(fd int) []byte {
	if s.shmSize <= 0 {
		Logger().Warn("shared memory declined: a descriptor came, but the host set no arena size (" + wire.EnvSharedMemory + ")")
		return nil
	}
	arena, err := wire.MapArena(fd, s.shmSize)
	if err != nil {
		Logger().Warn("shared memory declined", "error", err)
		return nil
	}
	return arena
}

// readToken reads the token into got and returns the descriptor the host
// passed with it (-1 for none): exactly one, or the connection fails. A
// descriptor that came with a second, short read is discarded (closed)
// by the plain read.
func readToken(c net.Conn, got []byte) (fd int, err error) {
	uc, ok := c.(*net.UnixConn)
	if !ok || !wire.ShmSupported {
		_, err := io.ReadFull(c, got)
		return -1, err
	}
	oob := make([]byte, wire.RightsSpace())
	n, oobn, flags, _, err := uc.ReadMsgUnix(got, oob)
	if err != nil {
		return -1, err
	}
	fd = -1
	if oobn > 0 || flags&syscall.MSG_CTRUNC != 0 {
		fd, err = wire.ParseRights(oob[:oobn], flags&syscall.MSG_CTRUNC != 0)
		if err != nil {
			return -1, err
		}
	}
	if _, err := io.ReadFull(c, got[n:]); err != nil {
		if fd >= 0 {
			wire.CloseFD(fd)
		}
		return -1, err
	}
	return fd, nil
}

// mayPoll says when the data plane's reader may poll for the next call
// (see wire.RawConn.SetSpin): always with one thread for Go code, where it
// only runs when no call's goroutine can, the next call of a caller that
// calls one at a time coming a round trip after the last one ended; with
// more, only while no call runs, so as not to take a CPU from them.
func (s *server) mayPoll() func() bool {
	if runtime.GOMAXPROCS(0) == 1 {
		return nil
	}
	return func() bool { return s.running.Load() == 0 }
}

// serveConn serves the data plane on the host's connection until it ends;
// arena is the connection's shared memory (nil for none), unmapped once
// every call of the session has returned.
func (s *server) serveConn(c net.Conn, arena []byte) {
	defer c.Close()
	if arena != nil {
		defer wire.UnmapArena(arena)
	}
	ctx, cancel := context.WithCancel(s.stopping)
	defer cancel()
	if uc, ok := c.(*net.UnixConn); ok {
		if rc, err := wire.NewRawConn(uc); err == nil {
			if s.idleSpin > 0 {
				rc.SetSpin(wire.SpinAfter(s.idleSpin, s.lastEnd.Load, s.mayPoll()))
			}
			c = rc
		}
	}
	fr := wire.NewFrameReader(c, s.lim.Frame)
	fw := &wire.FrameWriter{W: c}
	names := wire.Interner{}
	recv := func() (*workerpb.CallBatch, error) {
		frame, err := fr.ReadOwned()
		var b *workerpb.CallBatch
		if err == nil {
			b, err = wire.DecodeCallBatch(frame, names)
		}
		if err != nil {
			// Unblock a reply being written, and end the calls' contexts.
			c.Close()
			cancel()
			return nil, err
		}
		return b, nil
	}
	send := func(rs []*workerpb.Reply) error {
		err := wire.EachReplyBatch(rs, fw.AddReplies)
		if err != nil {
			return err
		}
		return fw.Flush()
	}
	s.serveSession(ctx, recv, send, true, arena)
}

// transport is the host's side of a data plane: the gRPC stream or the
// socket. send and flush are called by one goroutine at a time (the
// batcher's sender or a caller that helps it), recv by the receive loop
