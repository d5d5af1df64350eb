package farm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// A relative Path is resolved once, by New: a replacement worker starts
// the same file after the host changed its working directory.
func TestRelativePathResolvedOnce(t *testing.T) {
	host := t.TempDir()
	b, err := os.ReadFile(workerBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(host, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "bin", "worker"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(host)
	f := newFarm(t, farm.Config{Path: "bin/worker", Workers: 1, MaxRetries: farm.NoRetries})
	first := workerPIDs(f)[0]
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	_, _ = f.RunMethod(ctx(t), "exit", 3)
	testutil.Eventually(t, 5*time.Second, "a replacement worker", func() bool {
		pids := workerPIDs(f)
		return len(pids) == 1 && pids[0] != first && pids[0] != 0
	})
	if got, err := farm.Call[int](ctx(t), f, "add", 1, 2, 3); err != nil || got != 6 {
		t.Fatalf("add on the replacement = %d, %v", got, err)
	}
}

// A Dir that does not exist fails the start with an error naming Dir.
func TestMissingDirNamed(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	_, err := farm.New(farm.Config{Path: workerBin, Workers: 1, Dir: missing, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "Dir "+missing) {
		t.Fatalf("err = %v, want one naming Dir %s", err, missing)
	}
}
