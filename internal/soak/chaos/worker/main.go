// Command worker is the chaos soak's worker. Its method "chaos" does what
// the host tells it in each call: answer, fail, panic, end the process or
// hang; "chaosBlob" does the same for a call that also carries a byte slice
// (see internal/soak/blob), which it checks first. The host picks every call's fate with a seeded RNG, so it knows
// what each answer must be.
//
// With $CHAOS_JOURNAL set, every run of either first appends "IDX PID\n"
// to that file (one write, O_APPEND: the lines of concurrent workers do
// not mix), so that the soak can count how many times each call ran.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/workestrator/workestrator/internal/soak/blob"
	"github.com/workestrator/workestrator/pkg/plugin"
)

// blobs are the blobs a chaosBlob call may carry, by kind.
var blobs = func() [][]byte {
	bs := make([][]byte, blob.Kinds)
	for k := range bs {
		bs[k] = blob.Make(k)
	}
	return bs
}()

// grown keeps what the "grow" fate allocated.
var grown struct {
	sync.Mutex
	b [][]byte
}

// ExitCode is the status of the process when a call's fate is "exit".
const ExitCode = 42

// journal is $CHAOS_JOURNAL, opened for appending; nil without it.
var journal *os.File

// record appends a line for a run of call idx to the journal.
func record(idx int) error {
	if journal == nil {
		return nil
	}
	b := strconv.AppendInt(make([]byte, 0, 24), int64(idx), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, '\n')
	_, err := journal.Write(b)
	return err
}

func main() {
	if p := os.Getenv("CHAOS_JOURNAL"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos worker:", err)
			os.Exit(1)
		}
		journal = f
	}
	plugin.Serve(plugin.Methods{
		// chaos runs call idx with the given fate. Its answer, when it has
		// one, is idx*2; its error messages name idx.
		"chaos": chaos,
		// chaosBlob is chaos for a call that carries blob kind k: a
		// blob that is not that one fails the call (permanently).
		"chaosBlob": func(ctx context.Context, idx int, fate string, k int, b []byte) (int, error) {
			if k < 0 || k >= blob.Kinds || !bytes.Equal(b, blobs[k]) {
				return 0, plugin.Permanent(fmt.Errorf("chaos call %d: blob %d of %d bytes is not the one sent", idx, k, len(b)))
			}
			return chaos(ctx, idx, fate)
		},
		// sleep answers idx*2 after ms milliseconds, or its context's error.
		"sleep": func(ctx context.Context, idx, ms int) (int, error) {
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
				return idx * 2, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		},
		"pid": os.Getpid,
	})
}

// chaos runs call idx with the given fate. Its answer, when it has one,
// is idx*2; its error messages name idx.
func chaos(ctx context.Context, idx int, fate string) (int, error) {
	if err := record(idx); err != nil {
		return 0, plugin.Permanent(fmt.Errorf("chaos journal: %w", err))
	}
	switch fate {
	case "ok":
		return idx * 2, nil
	case "error":
		return 0, fmt.Errorf("chaos error %d", idx)
	case "permanent":
		return 0, plugin.Permanent(fmt.Errorf("chaos permanent %d", idx))
	case "panic":
		panic(fmt.Sprintf("chaos panic %d", idx))
	case "exit":
		os.Exit(ExitCode)
	case "kill":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "hang": // ignores its context: the host must recycle the worker
		select {}
	case "hangctx", "cancel": // honours its context
		<-ctx.Done()
		return 0, ctx.Err()
	case "compute": // computes, without a system call, until cancelled
		return compute(ctx)
	case "grow": // keeps 16 MiB more, resident, for good
		b := make([]byte, 16<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		grown.Lock()
		grown.b = append(grown.b, b)
		grown.Unlock()
		return idx * 2, nil
	}
	return 0, plugin.Permanent(fmt.Errorf("unknown fate %q", fate))
}

// compute keeps the CPU busy without a system call or an allocation until
// ctx ends: the kind of call that keeps a one-P worker's other goroutines
// waiting unless the runtime preempts it.
func compute(ctx context.Context) (int, error) {
	x := uint64(1)
	for ctx.Err() == nil {
		for range 1 << 16 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return int(x & 1), ctx.Err()
}
