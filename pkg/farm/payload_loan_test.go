package farm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// RunMethod lends its big []byte arguments to the socket without a copy.
// A caller that stops waiting (here: cancelled while its frozen worker
// reads nothing, so the frame is stuck in the batcher or in the write)
// returns at once, and may then overwrite its slice: the worker still gets
// the bytes the caller passed.
func TestLentPayloadOfACancelledCall(t *testing.T) {
	// A long KillTimeout: the cancelled call's worker, frozen, is not
	// recycled before it is resumed and runs the call.
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries, KillTimeout: time.Minute})
	pid := workerPIDs(f)[0]
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i * 31)
	}
	sum := sha256.Sum256(big)
	want := hex.EncodeToString(sum[:])

	testutil.Freeze(t, pid)
	c, cancel := context.WithCancel(ctx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := f.RunMethod(c, "keepSum", big)
		errc <- err
	}()
	testutil.Eventually(t, 5*time.Second, "the call dispatched", func() bool { return f.Stats().InFlight == 1 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled call waited for its frozen worker")
	}
	for i := range big {
		big[i] = 0xff
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var got string
	testutil.Eventually(t, 10*time.Second, "the worker ran keepSum", func() bool {
		got, _ = farm.Call[string](ctx(t), f, "lastSum")
		return got != ""
	})
	if got != want {
		t.Fatalf("the worker got bytes of SHA-256 %s, want %s", got, want)
	}
	// A blocking call whose answer comes back: lent and intact, 16 MiB.
	for i := range big {
		big[i] = byte(i * 7)
	}
	back, err := farm.Call[[]byte](ctx(t), f, "echoBytes", big)
	if err != nil || !bytes.Equal(back, big) {
		t.Fatalf("echo of 16 MiB: %s, %v", describe(back, big), err)
	}
}
