package wire

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync"

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
	// DataPlaneTokenLen is the length of the secret the host writes first.
	DataPlaneTokenLen = 16
	// KeepBuf is the largest frame buffer kept for the next frame.
	KeepBuf = 1 << 20
)

// FrameWriter builds frames and writes them in one go: small bytes copied
// into a buffer, results of at least VecMin bytes written from their own
// slices (a vectored write), which must not change until Flush returns.
type FrameWriter struct {
	W io.Writer
	v Vec
}

// AddReplies appends the frame of a ReplyBatch of rs; it writes what it
// holds once that reaches maxBatchBytes, so that a burst of large replies is
// not all held first.
func (fw *FrameWriter) AddReplies(rs []*workerpb.Reply) error {
	fw.v.Min = VecMin
	start := fw.v.Len()
	if err := AppendReplyBatchVec(&fw.v, rs); err != nil {
		fw.v.Truncate(start)
		return err
	}
	return fw.FlushIfFull()
}

// FlushIfFull writes what the writer holds once that reaches maxBatchBytes.
func (fw *FrameWriter) FlushIfFull() error {
	if fw.v.Len() >= MaxBatchBytes {
		return fw.Flush()
	}
	return nil
}

// Flush writes the frames added since the last Flush.
func (fw *FrameWriter) Flush() error {
	if fw.v.Len() == 0 {
		return nil
	}
	_, err := fw.v.WriteTo(fw.W, 0)
	return err
}

// FrameReader reads frames, each into a new buffer of its exact size: the
// decoders alias arguments and results into it (see wire.go). A frame
// announced over limit is refused before anything is allocated for it. A
// frame of up to frameChunk bytes gets its buffer at once. A bigger one is
// read frameChunk bytes at first into a pooled buffer (firstChunks, one
// reader at a time), then into a buffer of its own that grows frameGrowth
// times over each time it is full, to the exact size once that is at most
// twice the next step. So a header that lies costs at most frameChunk
// before any of its bytes arrive, then about 2*frameGrowth+1 times what the
// peer sent beyond its first frameChunk bytes; a frame is allocated once up
// to 2*frameGrowth*frameChunk (4 MiB), and a bigger one once more for each
// growth, copying its first frameChunk bytes and then what each buffer it
// outgrew held.
type FrameReader struct {
	r     *bufio.Reader
	limit int
}

// frameGrowth is the factor by which a frame's buffer grows as it fills.
const frameGrowth = 8

// firstChunks holds the buffers that take the first frameChunk bytes of a
// frame bigger than that, before its own buffer is allocated.
var firstChunks = sync.Pool{New: func() any { return new([frameChunk]byte) }}

// NewFrameReader reads frames from r, each of at most limit bytes.
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
	if size <= frameChunk {
		b := make([]byte, size)
		if err := fr.readFull(b); err != nil {
			return nil, err
		}
		return b, nil
	}
	first := firstChunks.Get().(*[frameChunk]byte)
	if err := fr.readFull(first[:]); err != nil {
		firstChunks.Put(first)
		return nil, err
	}
	b := make([]byte, frameChunk, frameStep(frameChunk, size))
	copy(b, first[:])
	firstChunks.Put(first)
	for len(b) < size {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), frameStep(len(b), size))
			copy(nb, b)
			b = nb
		}
		if err := fr.readFull(b[len(b):cap(b)]); err != nil {
			return nil, err
		}
		b = b[:cap(b)]
	}
	return b, nil
}

// frameStep is the capacity of a frame's buffer of size bytes once have
// bytes filled the last one: frameGrowth times have, or exactly size when
// that is at most twice as much, so that a frame is never copied for its
// last few bytes.
func frameStep(have, size int) int {
	if have < size/(2*frameGrowth) { // no overflow, on 32 bits either
		return frameGrowth * have
	}
	return size
}

// readFull fills b from the frame's bytes; a frame cut short is
// io.ErrUnexpectedEOF.
func (fr *FrameReader) readFull(b []byte) error {
	if _, err := io.ReadFull(fr.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}
