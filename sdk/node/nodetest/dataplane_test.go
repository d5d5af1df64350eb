package nodetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// TestGRPCStreamFallback runs the main behaviours on the gRPC stream, the
// data plane of a host that sets WORKESTRATOR_DATA_PLANE=grpc; the other
// tests use the worker's socket.
func TestGRPCStreamFallback(t *testing.T) {
	t.Setenv("WORKESTRATOR_DATA_PLANE", "grpc")
	t.Run("RunAndRunMethod", TestRunAndRunMethod)
	t.Run("Errors", TestErrors)
	t.Run("TimeoutCooperative", TestTimeoutCooperative)
	t.Run("CallerCancel", TestCallerCancelReachesFunction)
	t.Run("LargePayload", TestLargePayload)
	t.Run("Burst", TestBurstOfMixedCalls)
}

// TestBurstOfMixedCalls sends many calls at once, of sizes that make frames
// span reads and replies share batches, with errors among them: each gets
// its own answer.
func TestBurstOfMixedCalls(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 64, MaxRetries: farm.NoRetries})
	const n = 3000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := context.Background()
			switch i % 5 {
			case 0:
				_, err := f.RunMethod(c, "throwType", i)
				var re *farm.RemoteError
				if !errors.As(err, &re) || re.Type != "TypeError" {
					errs <- fmt.Errorf("call %d: err = %v, want a TypeError", i, err)
				}
			default:
				s := strings.Repeat(string(rune('a'+i%26)), (i*37)%70000)
				got, err := farm.Call[string](c, f, "echo", s)
				if err != nil || got != s {
					errs <- fmt.Errorf("call %d: echo of %d bytes = %d bytes, %v", i, len(s), len(got), err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
