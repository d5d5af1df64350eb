package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

func TestFrameSizes(t *testing.T) {
	var buf bytes.Buffer
	fw := FrameWriter{W: &buf}
	big := bytes.Repeat([]byte{1}, 3<<20)
	sizes := []int{0, 1, 127, 128, 1 << 14, len(big)}
	for _, n := range sizes {
		if err := fw.AddReplies([]*workerpb.Reply{{Id: uint64(n), Result: big[:n]}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(&buf, NewLimits(0).Frame)
	for _, n := range sizes {
		b, err := fr.ReadOwned()
		var rs []Response
		if err == nil {
			rs, err = DecodeReplies(b, nil)
		}
		if err != nil || len(rs) != 1 || rs[0].ID != uint64(n) || len(rs[0].Result) != n {
			t.Fatalf("frame %d: %+v, %v", n, rs, err)
		}
	}
	if _, err := fr.ReadOwned(); err != io.EOF {
		t.Fatalf("after the last frame: %v", err)
	}
}

func TestFrameReaderLimit(t *testing.T) {
	const limit = 64 << 20
	over := binary.AppendUvarint(nil, limit+1)
	_, err := NewFrameReader(bytes.NewReader(over), limit).ReadOwned()
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("frame over the limit: %v", err)
	}
	huge := binary.AppendUvarint(nil, 1<<62)
	if _, err := NewFrameReader(bytes.NewReader(huge), limit).ReadOwned(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("frame of 2^62 bytes: %v", err)
	}
	liar := append(binary.AppendUvarint(nil, limit), 1, 2, 3)
	fr := NewFrameReader(bytes.NewReader(liar), limit)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		fr.r.Reset(bytes.NewReader(liar))
		if _, err := fr.ReadOwned(); err != io.ErrUnexpectedEOF {
			t.Fatalf("a frame cut short: %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 2*frameChunk {
		t.Fatalf("a 64 MiB header followed by 3 bytes allocated %d bytes", per)
	}
	// Frames that come whole, large and small, read back.
	var buf bytes.Buffer
	for _, n := range []int{0, 1, frameChunk - 1, frameChunk, frameChunk + 1, 5 * frameChunk, 3<<20 + 7} {
		buf.Reset()
		buf.Write(binary.AppendUvarint(nil, uint64(n)))
		buf.Write(bytes.Repeat([]byte{byte(n)}, n))
		b, err := NewFrameReader(&buf, limit).ReadOwned()
		if err != nil || len(b) != n || !bytes.Equal(b, bytes.Repeat([]byte{byte(n)}, n)) {
			t.Fatalf("frame of %d bytes: %d bytes, %v", n, len(b), err)
		}
	}
}

// A frame over frameChunk allocates about its own size, not its first
// chunk besides: that chunk's buffer is shared.
func TestFrameReaderAllocatesOnce(t *testing.T) {
	for _, n := range []int{frameChunk + 1, 300 << 10, 2 << 20} {
		frame := append(binary.AppendUvarint(nil, uint64(n)), bytes.Repeat([]byte{'f'}, n)...)
		fr := NewFrameReader(bytes.NewReader(frame), 64<<20)
		read := func() {
			fr.r.Reset(bytes.NewReader(frame))
			b, err := fr.ReadOwned()
			if err != nil || len(b) != n || b[n-1] != 'f' {
				t.Fatalf("frame of %d bytes: %d bytes, %v", n, len(b), err)
			}
		}
		read()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const reads = 20
		for range reads {
			read()
		}
		runtime.ReadMemStats(&after)
		// Half a chunk of slack: the race detector's pool drops some
		// of what it is given.
		if per := (after.TotalAlloc - before.TotalAlloc) / reads; per > uint64(n+frameChunk/2) {
			t.Errorf("a frame of %d bytes allocated %d bytes", n, per)
		}
	}
}
