package farm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/pkg/farm"
)

// envReserveChild makes the test binary run TestHostHeapReserve's child
// part in the mode it names; envReserveWorker is the worker binary.
const (
	envReserveChild  = "WORKESTRATOR_TEST_RESERVE_CHILD"
	envReserveWorker = "WORKESTRATOR_TEST_RESERVE_WORKER"
)

// A farm gives its host process a heap reserve that raises the GC's heap
// goal without being resident, so that big results are collected every
// few dozen calls instead of every few; none when it is off or the
// process's GC is tuned (GOGC, GOMEMLIMIT, runtime/debug). Each mode runs
// in a process of its own: the reserve is the process's.
func TestHostHeapReserve(t *testing.T) {
	if mode := os.Getenv(envReserveChild); mode != "" {
		reserveChild(mode)
		return
	}
	const mib = 1 << 20
	for _, c := range []struct {
		mode string
		env  []string
		// The least and most heap goal after New, and the most
		// collections during 40 calls of 1 MiB results.
		minGoal, maxGoal uint64
		maxGCs           int
	}{
		{"default", nil, 128 * mib, 1 << 40, 2},
		{"explicit", nil, 512 * mib, 1 << 40, 2},
		{"off", nil, 0, 64 * mib, 1 << 20},
		{"default", []string{"GOGC=150"}, 0, 64 * mib, 1 << 20},
		{"default", []string{"GOMEMLIMIT=4GiB"}, 0, 64 * mib, 1 << 20},
		{"setgc", nil, 0, 64 * mib, 1 << 20},
	} {
		t.Run(strings.Join(append([]string{c.mode}, c.env...), "-"), func(t *testing.T) {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestHostHeapReserve$", "-test.count=1")
			cmd.Env = append(os.Environ(), envReserveChild+"="+c.mode, envReserveWorker+"="+workerBin)
			cmd.Env = append(cmd.Env, c.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child host: %v\n%s", err, out)
			}
			var goal, rssGrew uint64
			var gcs int
			if _, err := fmt.Sscanf(lastLine(out, "RESERVE"), "RESERVE goal %d rss+ %d gcs %d", &goal, &rssGrew, &gcs); err != nil {
				t.Fatalf("child output: %v\n%s", err, out)
			}
			t.Logf("heap goal %d MiB, resident +%d MiB, %d collections", goal/mib, rssGrew/mib, gcs)
			if goal < c.minGoal || goal > c.maxGoal {
				t.Errorf("heap goal after New %d MiB, want %d to %d MiB", goal/mib, c.minGoal/mib, c.maxGoal/mib)
			}
			if rssGrew > 32*mib {
				t.Errorf("New made the host %d MiB more resident: the reserve is touched", rssGrew/mib)
			}
			if c.maxGCs < 1<<20 && gcs > c.maxGCs {
				t.Errorf("%d collections for 40 results of 1 MiB, want at most %d", gcs, c.maxGCs)
			}
			if c.maxGCs == 1<<20 && gcs < 5 {
				t.Errorf("%d collections for 40 results of 1 MiB without a reserve: the test measures nothing", gcs)
			}
		})
	}
}

// reserveChild makes a farm in the given mode and prints the heap goal
// after New, how much more of the process is resident than before New, and
// how many collections 40 calls returning 1 MiB each took.
func reserveChild(mode string) {
	cfg := farm.Config{Path: os.Getenv(envReserveWorker), Workers: 1, Logger: hclog.NewNullLogger()}
	switch mode {
	case "explicit":
		cfg.HostHeapReserve = 256 << 20
	case "off":
		cfg.HostHeapReserve = farm.HostHeapReserveOff
	case "setgc":
		debug.SetGCPercent(120)
	}
	rss0 := residentBytes()
	f, err := farm.New(cfg)
	if err != nil {
		fmt.Println("New:", err)
		os.Exit(2)
	}
	defer f.Kill()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	rss1 := residentBytes()
	arg := bytes.Repeat([]byte{'r'}, 1<<20)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 40 {
		if b, err := farm.Call[[]byte](context.Background(), f, "echoBytes", arg); err != nil || len(b) != len(arg) {
			fmt.Println("echoBytes:", len(b), err)
			os.Exit(2)
		}
	}
	runtime.ReadMemStats(&m1)
	grew := uint64(0)
	if rss1 > rss0 {
		grew = rss1 - rss0
	}
	fmt.Printf("RESERVE goal %d rss+ %d gcs %d\n", s[0].Value.Uint64(), grew, m1.NumGC-m0.NumGC)
}

// residentBytes is the process's resident memory (VmRSS).
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// lastLine is the last line of out that starts with prefix.
func lastLine(out []byte, prefix string) string {
	last := ""
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, prefix) {
			last = line
		}
	}
	return last
}
