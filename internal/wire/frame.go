package wire

import (
	"bufio"
	"encoding/binary"
	"io"

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

// FrameReader reads frames, each into a new buffer: the decoders alias
// arguments and results into it (see wire.go). A frame announced over limit
// is refused before anything is allocated for it; a frame's buffer starts
// at frameChunk bytes at most and grows frameGrowth times over each time it
// is full (to the exact size once that is near), so that a header that
// lies costs at most 2*frameGrowth times what the peer sent (frameChunk at
// first), and a big frame is copied about 1/frameGrowth of its size on the
// way.
// frameGrowth is the factor by which a frame's buffer grows as it fills.
const frameGrowth = 8

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
			// Exactly the frame's size once that is at most twice the
			// next step, so that a frame is never copied for its
			// last few bytes.
			n := frameGrowth * len(b)
			if 2*n >= size {
				n = size
			}
			nb := make([]byte, len(b), n)
			copy(nb, b)
			b = nb
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
