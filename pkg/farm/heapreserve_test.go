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
		// reserve: whether the process gets one (of the size its config
		// asks for).
		reserve bool
	}{
		{"default", nil, true},
		{"explicit", nil, true},
		{"off", nil, false},
		{"default", []string{"GOGC=150"}, false},
		{"default", []string{"GOGC=100"}, false},
		{"default", []string{"GOMEMLIMIT=4GiB"}, false},
		{"setgc", nil, false},
	} {
		t.Run(strings.Join(append([]string{c.mode}, c.env...), "-"), func(t *testing.T) {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestHostHeapReserve$", "-test.count=1")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, envReserveChild+"="+c.mode, envReserveWorker+"="+workerBin)
			cmd.Env = append(cmd.Env, c.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child host: %v\n%s", err, out)
			}
			var asked, goal, rssGrew uint64
			var gcs int
			var buffers bool
			if _, err := fmt.Sscanf(lastLine(out, "RESERVE"), "RESERVE asked %d goal %d rss+ %d gcs %d buffers %t", &asked, &goal, &rssGrew, &gcs, &buffers); err != nil {
				t.Fatalf("child output: %v\n%s", err, out)
			}
			t.Logf("asked %d MiB: heap goal %d MiB, resident +%d MiB, %d collections, result buffers %v", asked/mib, goal/mib, rssGrew/mib, gcs, buffers)
			if rssGrew > 32*mib {
				t.Errorf("New made the host %d MiB more resident: the reserve is touched", rssGrew/mib)
			}
			switch {
			case c.reserve && asked == 0:
				t.Skip("the process's cgroup memory limit leaves no room for a reserve")
			case c.reserve:
				if goal < 2*asked {
					t.Errorf("heap goal after New %d MiB, want at least %d MiB (twice the reserve)", goal/mib, 2*asked/mib)
				}
				if asked >= 64*mib && gcs > 2 {
					t.Errorf("%d collections for 40 results of 1 MiB with a reserve of %d MiB, want at most 2", gcs, asked/mib)
				}
				if buffers {
					t.Error("the farm makes result buffers beside a reserve")
				}
			default:
				if goal > 64*mib {
					t.Errorf("heap goal after New %d MiB: a reserve was made", goal/mib)
				}
				if gcs < 5 {
					t.Errorf("%d collections for 40 results of 1 MiB without a reserve: the test measures nothing", gcs)
				}
				if !buffers {
					t.Error("the farm makes no result buffers without a reserve")
				}
			}
		})
	}
}

// reserveChild makes a farm in the given mode and prints the reserve its
// config asks for, the heap goal after New, how much more of the process
// is resident than before New, how many collections 40 calls returning
// 1 MiB each took, and whether the farm makes result buffers.
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
	rss0, err := farm.ResidentBytes()
	if err != nil {
		fmt.Println("resident memory:", err)
		os.Exit(2)
	}
	f, err := farm.New(cfg)
	if err != nil {
		fmt.Println("New:", err)
		os.Exit(2)
	}
	defer f.Kill()
	runtime.GC() // the goal of a finished cycle, which counts the reserve
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	rss1, _ := farm.ResidentBytes()
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
	grew := max(rss1-rss0, 0)
	fmt.Printf("RESERVE asked %d goal %d rss+ %d gcs %d buffers %t\n", farm.HostHeapReserveFor(cfg), s[0].Value.Uint64(), grew, m1.NumGC-m0.NumGC, farm.MakesResultBuffers(f))
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
