package host

import (
	"errors"
	"io"
	"os"
	"testing"
)

// The worker's stdout, as go-plugin reads it, ends with io.EOF when the
// runner closes the pipe after the drain: go-plugin logs any other error
// at error level.
func TestStdoutClosedIsEOF(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	er := &eofReader{Reader: r, done: make(chan struct{})}
	r.Close()
	if _, err := er.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after close: %v, want io.EOF", err)
	}
	select {
	case <-er.done:
	default:
		t.Fatal("done not closed")
	}
}
