package farm_test

import (
	"bytes"
	"testing"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// A worker that does not list the raw-bytes feature gets its []byte
// arguments encoded by the serializer.
func TestRawBytesToAWorkerWithout(t *testing.T) {
	liar := testutil.MustBuild(t, "./internal/testutil/fixtures/liar")
	f := newFarm(t, farm.Config{Path: liar, Workers: 1})
	payload := []byte{1, 2, 3, 250}
	got, err := farm.Call[[]byte](ctx(t), f, "echo", payload)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echo = %v, %v", got, err)
	}
}
