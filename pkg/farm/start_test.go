package farm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// envStartChild makes the test binary run TestManyWorkersFailFast's child
// part: a host whose file descriptors run out while New starts workers.
const envStartChild = "WORKESTRATOR_TEST_START_CHILD"

// A Workers value beyond what the process can run is a clear error from
// New, returned soon after the first start that fails, with no worker
// process left. The host runs in a child process with a low RLIMIT_NOFILE.
func TestManyWorkersFailFast(t *testing.T) {
	if os.Getenv(envStartChild) != "" {
		manyWorkersChild()
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestManyWorkersFailFast$", "-test.count=1")
	cmd.Env = append(os.Environ(), envStartChild+"="+workerBin)
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child host: %v", err)
	}
	for _, want := range []string{"START-ERROR:", "too many open files", "Workers = 2000", "CHILDREN: 0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q", want)
		}
	}
}

// manyWorkersChild asks for 2,000 workers with 256 file descriptors, and
// prints what New returned, how many starts failed and the processes left.
func manyWorkersChild() {
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(2)
	}
	var starts, failures atomic.Int64
	f, err := farm.New(farm.Config{
		Path:    os.Getenv(envStartChild),
		Workers: 2000,
		OnEvent: func(ev farm.Event) {
			switch ev.Type {
			case farm.EventFork:
				starts.Add(1)
			case farm.EventError:
				failures.Add(1)
			}
		},
	})
	if err == nil {
		f.Kill()
		fmt.Println("New started 2000 workers with 256 file descriptors")
		os.Exit(1)
	}
	fmt.Printf("START-ERROR: %v\n", err)
	fmt.Printf("ErrWorkerStart: %v\n", errors.Is(err, farm.ErrWorkerStart))
	fmt.Printf("forks: %d, failed starts: %d\n", starts.Load(), failures.Load())
	left := 0
	testutil.WaitFor(2*time.Second, func() bool {
		left = len(testutil.Children(os.Getpid()))
		return left == 0
	})
	fmt.Printf("CHILDREN: %d\n", left)
	if n := failures.Load(); n > 16 {
		fmt.Printf("%d starts failed: New went on starting workers after the first failure\n", n)
		os.Exit(1)
	}
}
