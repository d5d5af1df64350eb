package plugin

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// The socket data plane: the Stream RPC's batches, written straight on a
// unix socket of the worker's own as protobuf messages, each preceded by its
// length as a uvarint. It skips gRPC's hand-offs between goroutines (its
// writer goroutine on both sides, its reader-to-handler hand-off): a message
// is written by the goroutine that flushes the batcher and read by the
// goroutine that handles it.
//
// The socket lives in the directory go-plugin made for the worker's own
// socket (mode 0700, owned by the host's user), is itself mode 0600, and is
// removed as soon as the host is connected. The host proves itself with a
// token it learnt from Describe; the worker serves one connection only.
// The bytes are not encrypted: a host that asked for AutoMTLS uses the
// gRPC stream.

const (
	// dataPlaneTokenLen is the length of the secret the host writes first.
	dataPlaneTokenLen = 16
	// KeepBuf is the largest frame buffer kept for the next frame.
	KeepBuf = 1 << 20
	// dataPlaneAuthTimeout bounds the wait for a connection's token.
	dataPlaneAuthTimeout = 10 * time.Second
)

// FrameWriter builds frames in a buffer and writes them in one go.
type FrameWriter struct {
	W   io.Writer
	Buf []byte
}

// AddReplies appends the frame of a ReplyBatch of rs; it writes what it
// holds once that reaches maxBatchBytes, so that a burst of large replies is
// not all copied first.
func (fw *FrameWriter) AddReplies(rs []*workerpb.Reply) error {
	start := len(fw.Buf)
	b, err := AppendReplyBatchFrame(fw.Buf, rs)
	if err != nil {
		fw.Buf = b[:start]
		return err
	}
	fw.Buf = b
	return fw.FlushIfFull()
}

// FlushIfFull writes what the writer holds once that reaches maxBatchBytes.
func (fw *FrameWriter) FlushIfFull() error {
	if len(fw.Buf) >= MaxBatchBytes {
		return fw.Flush()
	}
	return nil
}

// Flush writes the frames added since the last Flush.
func (fw *FrameWriter) Flush() error {
	if len(fw.Buf) == 0 {
		return nil
	}
	_, err := fw.W.Write(fw.Buf)
	if cap(fw.Buf) > KeepBuf {
		fw.Buf = nil
	} else {
		fw.Buf = fw.Buf[:0]
	}
	return err
}

// FrameReader reads frames, each into a new buffer: the decoders alias
// arguments and results into it (see wire.go). A frame announced over limit
// is refused before anything is allocated for it; a frame's buffer starts
// at frameChunk bytes at most and grows as its bytes arrive, so that a
// header that lies costs no more.
type FrameReader struct {
	r     *bufio.Reader
	limit int
}

func NewFrameReader(r io.Reader, limit int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), limit: limit}
}

// ReadOwned reads the next frame into a new buffer that the caller owns.
// A frame over the limit is an error that matches [ErrTooLarge].
func (fr *FrameReader) ReadOwned() ([]byte, error) {
	n, err := binary.ReadUvarint(fr.r)
	if err != nil {
		return nil, err
	}
	if n > uint64(fr.limit) {
		return nil, ErrFrameTooLarge(n, fr.limit)
	}
	size := int(n)
	b := make([]byte, 0, min(size, frameChunk))
	for len(b) < size {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(size-len(b), len(b)))
		}
		k := min(cap(b), size) - len(b)
		if _, err := io.ReadFull(fr.r, b[len(b):len(b)+k]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b = b[:len(b)+k]
	}
	return b, nil
}

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
	dir := os.Getenv(EnvSocketDir)
	if dir == "" {
		return nil, errors.New(EnvSocketDir + " is not set")
	}
	var rnd [4 + dataPlaneTokenLen]byte
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
	var got [dataPlaneTokenLen]byte
	_ = c.SetReadDeadline(time.Now().Add(dataPlaneAuthTimeout))
	if _, err := io.ReadFull(c, got[:]); err != nil ||
		subtle.ConstantTimeCompare(got[:], d.token) != 1 || !d.claimed.CompareAndSwap(false, true) {
		c.Close()
		return
	}
	d.l.Close() // removes the socket: nobody else can connect
	_ = c.SetReadDeadline(time.Time{})
	s.serveConn(c)
}

// serveConn serves the data plane on the host's connection until it ends.
func (s *server) serveConn(c net.Conn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fr := NewFrameReader(c, s.lim.Frame)
	fw := &FrameWriter{W: c}
	names := Interner{}
	recv := func() (*workerpb.CallBatch, error) {
		frame, err := fr.ReadOwned()
		var b *workerpb.CallBatch
		if err == nil {
			b, err = DecodeCallBatch(frame, names)
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
		err := EachReplyBatch(rs, fw.AddReplies)
		if err != nil {
			return err
		}
		return fw.Flush()
	}
	s.serveSession(ctx, recv, send, true)
}

// transport is the host's side of a data plane: the gRPC stream or the
// socket. send and flush are called by one goroutine at a time (the
// batcher's sender or a caller that helps it), recv by the receive loop
// only.
type transport interface {
	// send queues a message of items, flush writes what was queued (the
	// gRPC stream sends at once). With own false (a helper; canHelp only)
	// neither blocks: flush returns errWouldBlock when bytes remain, which
	// the next send or flush writes first.
	send(items []Item, own bool) error
	flush(own bool) error
	// canHelp reports whether send and flush can keep from blocking.
	canHelp() bool
	// recv appends the responses of the next message to rs.
	recv(rs []Response) ([]Response, error)
	// close ends the transport: recv and a blocked send return.
	close()
	name() string
}

type grpcTransport struct {
	stream workerpb.Worker_StreamClient
	cancel context.CancelFunc
}

func (t *grpcTransport) send(items []Item, _ bool) error {
	b := &workerpb.CallBatch{}
	for i := range items {
		it := &items[i]
		if it.IsCancel {
			b.Cancels = append(b.Cancels, it.Cancel)
			continue
		}
		b.Calls = append(b.Calls, it.Req.PB())
	}
	return t.stream.Send(b)
}

func (t *grpcTransport) flush(bool) error { return nil }
func (t *grpcTransport) canHelp() bool    { return false }
func (t *grpcTransport) close()           { t.cancel() }
func (t *grpcTransport) name() string     { return "grpc" }

func (t *grpcTransport) recv(rs []Response) ([]Response, error) {
	b, err := t.stream.Recv()
	if err != nil {
		if status.Code(err) == codes.ResourceExhausted {
			err = fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return rs, err
	}
	return AppendResponses(rs, b.Replies), nil
}

// socketTransport writes frames from buf: a helper writes what the socket
// takes without blocking (raw, through tryWrite), the sender goroutine the
// rest, blocking.
type socketTransport struct {
	c   *net.UnixConn
	raw syscall.RawConn
	fr  *FrameReader
	buf []byte // frames to write, from off
	off int

	tryWrite func(fd uintptr) bool // made once, so that a write allocates nothing
	tryErr   error
}

// newSocketTransport is the host's side of the socket data plane on c.
func newSocketTransport(c *net.UnixConn, lim Limits) (*socketTransport, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	t := &socketTransport{c: c, raw: raw, fr: NewFrameReader(c, lim.Frame)}
	t.tryWrite = func(fd uintptr) bool {
		t.tryErr = nil
		for t.off < len(t.buf) {
			n, err := syscall.Write(int(fd), t.buf[t.off:])
			if n > 0 {
				t.off += n
			}
			switch {
			case err == syscall.EINTR:
			case err == syscall.EAGAIN:
				return true
			case err != nil:
				t.tryErr = err
				return true
			case n <= 0:
				t.tryErr = io.ErrShortWrite
				return true
			}
		}
		return true
	}
	return t, nil
}

func (t *socketTransport) send(items []Item, own bool) error {
	t.buf = AppendCallBatchFrame(t.buf, items)
	if len(t.buf)-t.off < MaxBatchBytes {
		return nil
	}
	if err := t.write(own); err != ErrWouldBlock {
		return err
	}
	return nil
}

func (t *socketTransport) flush(own bool) error { return t.write(own) }
func (t *socketTransport) canHelp() bool        { return true }
func (t *socketTransport) close()               { t.c.Close() }
func (t *socketTransport) name() string         { return "socket" }

// write writes buf: all of it (own), or what the socket takes at once,
// returning errWouldBlock if some is left.
func (t *socketTransport) write(own bool) error {
	var err error
	if t.off < len(t.buf) {
		if own {
			_, err = t.c.Write(t.buf[t.off:])
			t.off = len(t.buf)
		} else {
			if err = t.raw.Write(t.tryWrite); err == nil {
				err = t.tryErr
			}
			if err == nil && t.off < len(t.buf) {
				return ErrWouldBlock
			}
		}
	}
	if cap(t.buf) > KeepBuf {
		t.buf = nil
	} else {
		t.buf = t.buf[:0]
	}
	t.off = 0
	return err
}

func (t *socketTransport) recv(rs []Response) ([]Response, error) {
	frame, err := t.fr.ReadOwned()
	if err == nil {
		rs, err = DecodeReplies(frame, rs)
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("worker closed the data plane: %w", err)
		}
		return rs, err
	}
	return rs, nil
}
