package plugin

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

func TestDataPlaneListener(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PLUGIN_UNIX_SOCKET_DIR", dir)
	peer := dataPlanePeer{dir: dir, pid: os.Getpid()}
	srv := testServer(t, Methods{"add": func(a, b int) int { return a + b }})
	d, err := listenDataPlane()
	if err != nil {
		t.Fatal(err)
	}
	srv.dataPlane = d
	served := make(chan struct{})
	go func() { d.serve(srv); close(served) }()
	desc, _ := srv.Describe(context.Background(), &workerpb.DescribeRequest{})
	if !strings.HasPrefix(desc.DataPlane, "unix:") || len(desc.DataPlaneToken) != dataPlaneTokenLen {
		t.Fatalf("Describe: %q, %d-byte token", desc.DataPlane, len(desc.DataPlaneToken))
	}

	// A stranger with a wrong token is hung up on.
	c, err := net.Dial("unix", d.path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(bytes.Repeat([]byte{'x'}, dataPlaneTokenLen))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("stranger: read %d, %v; want EOF", n, err)
	}
	c.Close()

	// The host: its token, then frames.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tr, err := dialDataPlane(ctx, desc.DataPlane, desc.DataPlaneToken, NewLimits(0), peer)
	if err != nil {
		t.Fatal(err)
	}
	tr.send([]Item{{Req: Request{ID: 7, Method: "add", Args: [][]byte{[]byte("1"), []byte("2")}}}}, true)
	if err := tr.flush(true); err != nil {
		t.Fatal(err)
	}
	b, err := tr.recv(nil)
	if err != nil || len(b) != 1 || b[0].ID != 7 || string(b[0].Result) != "3" {
		t.Fatalf("reply %v, %v", b, err)
	}
	// The socket is gone, the listener done, Describe offers nothing more.
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("listener still accepting")
	}
	if _, err := dialDataPlane(ctx, desc.DataPlane, desc.DataPlaneToken, NewLimits(0), peer); err == nil {
		t.Fatal("a second host connected")
	}
	if desc, _ := srv.Describe(context.Background(), &workerpb.DescribeRequest{}); desc.DataPlane != "" {
		t.Fatalf("Describe still offers %q", desc.DataPlane)
	}
	// The host hangs up: the worker's session ends.
	tr.close()
	if _, err := tr.recv(nil); err == nil {
		t.Fatal("recv after close")
	}
}

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

// A header that announces more than the limit is refused before any
// allocation; one within the limit whose bytes do not come costs
// frameChunk at most.
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

// The worker's side: a frame over its limit ends the session at once.
func TestServeConnRefusesOversizedFrame(t *testing.T) {
	srv := testServer(t, Methods{"add": func(a, b int) int { return a + b }})
	host, worker := net.Pipe()
	defer host.Close()
	done := make(chan struct{})
	go func() { srv.serveConn(worker); close(done) }()
	go host.Write(binary.AppendUvarint(nil, uint64(srv.lim.Frame)+1))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the session still reads after a frame over the limit")
	}
}
