package wire

import (
	"bufio"
	"encoding/binary"
	"io"
	"slices"

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
