package soak_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/soak"
	"github.com/workestrator/workestrator/internal/testutil"
)

// Binaries built once by TestMain.
var chaosBin, orphanBin, chaosWorker, fixtureWorker, agentBin string

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, map[*string]string{
		&chaosBin:      "./internal/soak/chaos",
		&orphanBin:     "./internal/soak/orphan",
		&chaosWorker:   soak.WorkerPkg,
		&fixtureWorker: testutil.Worker,
		&agentBin:      soak.AgentPkg,
	}))
}

// runProgram runs a built program, bounded by timeout, and returns its
// stdout and exit code; it fails t if the program does not end in time.
func runProgram(t *testing.T, timeout time.Duration, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s (%v):\n%s", bin, strings.Join(args, " "), time.Since(start).Round(time.Millisecond), stdout.String())
	if s := stderr.String(); s != "" {
		t.Logf("stderr:\n%s", s)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within %v", bin, timeout)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return stdout.String(), cmd.ProcessState.ExitCode()
}

func TestChaosShort(t *testing.T) {
	out, code := runProgram(t, 3*time.Minute, chaosBin, "-short", "-worker", chaosWorker)
	if code != 0 || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("chaos -short: exit code %d", code)
	}
	testutil.NoChildren(t, 2*time.Second)
}

// TestChaosInProcess runs a small chaos soak inside the test, so that the
// race detector (go test -race) watches the farm under chaos.
func TestChaosInProcess(t *testing.T) {
	rates := map[string]float64{}
	for f := range soak.DefaultRates {
		rates[f] = 0.002
	}
	// Enough grow calls (16 MiB each) that workers go over the memory
	// limits and are replaced, some perhaps killed.
	rates["grow"] = 0.04 // under load, some time out before their worker is sampled
	var out bytes.Buffer
	rep, err := soak.RunChaos(soak.ChaosConfig{
		Worker: chaosWorker, Calls: 1000, Workers: 3,
		Timeout: 200 * time.Millisecond, KillTimeout: 100 * time.Millisecond, MaxRetries: 3,
		MaxWorkerMemory: 48 << 20, MaxWorkerMemoryHard: 96 << 20, MemoryCheckInterval: 20 * time.Millisecond,
		Seed: 7, Rates: rates, MinPerFate: 2, BlockingEvery: 3, BlobEvery: 5, Deadline: 2 * time.Minute, Out: &out,
		ReloadAt: 500,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("%d violations", len(rep.Violations))
	}
	if rep.MemoryRecycles == 0 {
		t.Fatalf("no worker replaced for its memory (%d memory kills)", rep.MemoryKills)
	}
	if rep.Reloads != 3 {
		t.Fatalf("%d workers reloaded in the middle of the calls, want 3", rep.Reloads)
	}
	testutil.NoChildren(t, 2*time.Second)
}

// TestChaosRemote runs a small chaos soak in remote mode inside the test
// (go test -race watches the host farm): one local worker and 2 agents,
// each killed, frozen or drained in turn while the calls go on.
func TestChaosRemote(t *testing.T) {
	rates := map[string]float64{}
	for f := range soak.DefaultRates {
		rates[f] = 0.002
	}
	var out bytes.Buffer
	rep, err := soak.RunChaos(soak.ChaosConfig{
		Worker: chaosWorker, Calls: 3000, Workers: 1,
		Agents: 2, AgentBin: agentBin, AgentWorkers: 2, Heartbeat: 100 * time.Millisecond, AgentFates: len(soak.AgentFates),
		Timeout: 200 * time.Millisecond, KillTimeout: 100 * time.Millisecond, MaxRetries: 3,
		MaxWorkerMemory: 48 << 20, MemoryCheckInterval: 20 * time.Millisecond,
		Seed: 11, Rates: rates, MinPerFate: 2, BlockingEvery: 3, BlobEvery: 5, Deadline: 2 * time.Minute, Out: &out,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("%d violations", len(rep.Violations))
	}
	for _, f := range soak.AgentFates {
		if rep.AgentFates[f] != 1 {
			t.Errorf("agent fate %s applied %d times, want 1", f, rep.AgentFates[f])
		}
	}
	if rep.Runs == 0 || rep.Attempts < rep.Runs {
		t.Errorf("%d runs of %d attempts", rep.Runs, rep.Attempts)
	}
	testutil.NoChildren(t, 2*time.Second)
}

func TestOrphan(t *testing.T) {
	out, code := runProgram(t, 2*time.Minute, orphanBin, "-worker", chaosWorker)
	if code != 0 || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("orphan: exit code %d", code)
	}
	testutil.NoChildren(t, 2*time.Second)
}

func TestPlanFates(t *testing.T) {
	rates := map[string]float64{"exit": 0.01, "panic": 0.001}
	a, err := soak.PlanFates(1000, rates, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := soak.PlanFates(1000, rates, 3, 1)
	count := map[string]int{}
	for i, f := range a {
		count[f]++
		if b[i] != f {
			t.Fatalf("same seed, different plans at %d", i)
		}
	}
	if count["exit"] != 10 || count["panic"] != 3 || count["ok"] != 987 {
		t.Fatalf("counts = %v", count)
	}
	if _, err := soak.PlanFates(10, map[string]float64{"nope": 0.1}, 0, 1); err == nil {
		t.Fatal("unknown fate accepted")
	}
	if _, err := soak.PlanFates(5, map[string]float64{"exit": 0.5, "panic": 0.5}, 3, 1); err == nil {
		t.Fatal("6 non-ok fates in 5 calls accepted")
	}
}
