package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
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

// frameContent is a frame of n bytes whose every byte depends on its
// position and on seed.
func frameContent(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9 + seed)
	}
	return b
}

// Frames of every size around the reader's steps, back to back on one
// stream, read back whole, each in a buffer of its own that a later read
// does not touch; and so for several readers at once.
func TestFrameReaderSizes(t *testing.T) {
	const c = frameChunk
	sizes := []int{0, 1, c - 1, c, c + 1, 300 << 10, 16*c - 1, 16 * c, 16*c + 1, 32*c + 1, 7}
	var stream []byte
	for i, n := range sizes {
		stream = binary.AppendUvarint(stream, uint64(n))
		stream = append(stream, frameContent(n, i)...)
	}
	readAll := func() error {
		fr := NewFrameReader(bytes.NewReader(stream), 64<<20)
		kept := make([][]byte, len(sizes))
		for i := range sizes {
			b, err := fr.ReadOwned()
			if err != nil {
				return fmt.Errorf("frame %d of %d bytes: %v", i, sizes[i], err)
			}
			kept[i] = b
		}
		if _, err := fr.ReadOwned(); err != io.EOF {
			return fmt.Errorf("after the last frame: %v", err)
		}
		for i, b := range kept {
			if len(b) != sizes[i] || cap(b) != sizes[i] || !bytes.Equal(b, frameContent(sizes[i], i)) {
				return fmt.Errorf("frame %d of %d bytes: %d bytes (capacity %d), or not what was sent", i, sizes[i], len(b), cap(b))
			}
		}
		return nil
	}
	if err := readAll(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Go(func() { errs[g] = readAll() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// A buffer's next capacity never passes the frame's size, on 32 bits
// either, and grows frameGrowth times while the frame is far bigger.
func TestFrameStep(t *testing.T) {
	for _, size := range []int{frameChunk + 1, 16 * frameChunk, 16*frameChunk + 1, 1<<28 + 1, math.MaxInt32} {
		for have := frameChunk; have < size; have = frameStep(have, size) {
			n := frameStep(have, size)
			if n > size || n <= have {
				t.Fatalf("frameStep(%d, %d) = %d", have, size, n)
			}
			if n != size && n != frameGrowth*have {
				t.Fatalf("frameStep(%d, %d) = %d, want %d or the size", have, size, n, frameGrowth*have)
			}
		}
	}
}

// A frame over frameChunk allocates about its own size, not its first
// chunk besides: that chunk's buffer is pooled. (The race detector's pool
// drops some of what it is given: not measured there.)
func TestFrameReaderAllocatesOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers at random")
	}
	for _, n := range []int{frameChunk + 1, 300 << 10, 2 << 20} {
		frame := append(binary.AppendUvarint(nil, uint64(n)), frameContent(n, 1)...)
		fr := NewFrameReader(bytes.NewReader(frame), 64<<20)
		read := func() {
			fr.r.Reset(bytes.NewReader(frame))
			b, err := fr.ReadOwned()
			if err != nil || !bytes.Equal(b, frame[len(frame)-n:]) {
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
		if per := (after.TotalAlloc - before.TotalAlloc) / reads; per > uint64(n+n/8+8<<10) {
			t.Errorf("a frame of %d bytes allocated %d bytes", n, per)
		}
	}
}
