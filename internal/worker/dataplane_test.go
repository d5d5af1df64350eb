package worker

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

func TestDataPlaneListener(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PLUGIN_UNIX_SOCKET_DIR", dir)
	srv := testServer(t, Methods{"add": func(a, b int) int { return a + b }})
	d, err := listenDataPlane()
	if err != nil {
		t.Fatal(err)
	}
	srv.dataPlane = d
	served := make(chan struct{})
	go func() { d.serve(srv); close(served) }()
	desc, _ := srv.Describe(context.Background(), &workerpb.DescribeRequest{})
	if !strings.HasPrefix(desc.DataPlane, "unix:") || len(desc.DataPlaneToken) != wire.DataPlaneTokenLen {
		t.Fatalf("Describe: %q, %d-byte token", desc.DataPlane, len(desc.DataPlaneToken))
	}

	// A stranger with a wrong token is hung up on.
	c, err := net.Dial("unix", d.path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(bytes.Repeat([]byte{'x'}, wire.DataPlaneTokenLen))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("stranger: read %d, %v; want EOF", n, err)
	}
	c.Close()

	// The host: its token, then frames.
	hostDial := func() (net.Conn, error) {
		c, err := net.Dial("unix", strings.TrimPrefix(desc.DataPlane, "unix:"))
		if err == nil {
			_, err = c.Write(desc.DataPlaneToken)
		}
		return c, err
	}
	hc, err := hostDial()
	if err != nil {
		t.Fatal(err)
	}
	frame := wire.AppendCallBatchFrame(nil, []wire.Item{{Req: wire.Request{ID: 7, Method: "add", Args: [][]byte{[]byte("1"), []byte("2")}}}})
	if _, err := hc.Write(frame); err != nil {
		t.Fatal(err)
	}
	fr := wire.NewFrameReader(hc, wire.NewLimits(0).Frame)
	got, err := fr.ReadOwned()
	var b []wire.Response
	if err == nil {
		b, err = wire.DecodeReplies(got, nil)
	}
	if err != nil || len(b) != 1 || b[0].ID != 7 || string(b[0].Result) != "3" {
		t.Fatalf("reply %v, %v", b, err)
	}
	// The socket is gone, the listener done, Describe offers nothing more.
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("listener still accepting")
	}
	if c, err := hostDial(); err == nil {
		c.Close()
		t.Fatal("a second host connected")
	}
	if desc, _ := srv.Describe(context.Background(), &workerpb.DescribeRequest{}); desc.DataPlane != "" {
		t.Fatalf("Describe still offers %q", desc.DataPlane)
	}
	// The host hangs up: the worker's session ends.
	hc.Close()
}

func TestServeConnRefusesOversizedFrame(t *testing.T) {
	srv := testServer(t, Methods{"add": func(a, b int) int { return a + b }})
	host, worker := net.Pipe()
	defer host.Close()
	done := make(chan struct{})
	go func() { srv.serveConn(worker, nil); close(done) }()
	go host.Write(binary.AppendUvarint(nil, uint64(srv.lim.Frame)+1))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the session still reads after a frame over the limit")
	}
}
