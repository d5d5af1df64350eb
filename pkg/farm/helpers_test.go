package farm_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"testing"
	"time"
)

// ctx returns a context bounded by the test's default timeout.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func sha256File(t testing.TB, path string) []byte {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}
