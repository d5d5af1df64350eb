package nodetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// childHostEnv, set in the environment of this test binary, makes
// TestHostSIGKILLLeavesNoNodeWorker the child host.
const childHostEnv = "WORKESTRATOR_NODETEST_CHILD_HOST"

// TestHostSIGKILLLeavesNoNodeWorker runs this test binary again as a host
// with two Node.js workers busy (one of them in a function that never
// returns nor yields), SIGKILLs it, and checks that the workers exit within
// a second (the lifeline).
func TestHostSIGKILLLeavesNoNodeWorker(t *testing.T) {
	if os.Getenv(childHostEnv) == "1" {
		runChildHost()
		return
	}
	needNode(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostSIGKILLLeavesNoNodeWorker$", "-test.count=1")
	cmd.Env = append(os.Environ(), childHostEnv+"=1")
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PIDS "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) != 2 {
		t.Fatalf("the child host gave no worker pids (%v, %v)", pids, sc.Err())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	testutil.Eventually(t, 1500*time.Millisecond, "the orphaned Node.js workers to exit", func() bool {
		for _, pid := range pids {
			if testutil.Alive(pid) {
				return false
			}
		}
		return true
	})
	t.Logf("the workers exited %v after their host's SIGKILL", time.Since(killed).Round(time.Millisecond))
}

// runChildHost starts a farm of two Node.js workers with calls in flight,
// prints their pids and keeps calling until it is killed.
func runChildHost() {
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: os.Stderr})
	f, err := farm.New(farm.Config{Path: workerBin, Args: []string{fixture}, Workers: 2, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child host:", err)
		os.Exit(1)
	}
	for range 3 {
		f.Go(context.Background(), "stubborn")
	}
	// A function that never yields: its worker's event loop runs nothing
	// else, not even the lifeline's end.
	f.Go(context.Background(), "spin")
	var pids []string
	for _, w := range f.Stats().Workers {
		pids = append(pids, strconv.Itoa(w.PID))
	}
	fmt.Printf("PIDS %s\n", strings.Join(pids, " "))
	for {
		_, _ = f.RunMethod(context.Background(), "later", 1, 5)
	}
}

// A Node.js worker that its host stops (here at its TTL) exits by itself,
// with status 0: the lifeline's signal on the host's death (armed for
// functions that never yield) is disarmed before a stop.
func TestStoppedNodeWorkerExitsCleanly(t *testing.T) {
	exits := make(chan farm.Event, 16)
	f := newFarm(t, farm.Config{Workers: 1, TTL: 1, OnEvent: func(e farm.Event) {
		if e.Type == farm.EventExit {
			exits <- e
		}
	}})
	pid := workerPIDs(f)[0]
	if _, err := farm.Call[int](ctx(t), f, "pid"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if e.PID != pid || e.Exit == nil || e.Exit.Code != 0 || e.Exit.Signal != "" {
			t.Fatalf("exit of pid %d (want %d): %+v", e.PID, pid, e.Exit)
		}
	case <-ctx(t).Done():
		t.Fatal("the recycled worker did not exit")
	}
}
