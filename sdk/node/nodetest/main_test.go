package nodetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// sdkDir is the Node.js SDK's directory, workerBin its executable and
// fixture the module the tests serve.
var sdkDir, workerBin, fixture string

// nodeMissing, when set, says why the tests cannot run here: they skip
// (outside CI) or fail (CI=true).
var nodeMissing string

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	sdkDir = filepath.Dir(filepath.Dir(file))
	workerBin = filepath.Join(sdkDir, "bin", "workestrator-worker")
	fixture = filepath.Join(sdkDir, "nodetest", "testdata", "fixture.js")
	nodeMissing = prepare()
	os.Exit(testutil.Main(m, nil))
}

// prepare finds node and installs the SDK's dependencies from its lock
// file when node_modules is missing; it returns why the tests cannot run,
// or "".
func prepare() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "no node binary in PATH: the Node.js SDK's tests need Node.js 20 or later and npm"
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "@grpc", "grpc-js")); err == nil {
		return ""
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "sdk/node/node_modules is missing and there is no npm to run npm ci"
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = sdkDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("npm ci in %s failed: %v\n%s", sdkDir, err, out)
	}
	return ""
}

// needNode skips t, loudly, when the tests cannot run here; in CI
// (CI=true) it fails t instead.
func needNode(t testing.TB) {
	t.Helper()
	if nodeMissing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI: %s", nodeMissing)
	}
	t.Skipf("SKIPPING THE NODE.JS SDK TESTS: %s", nodeMissing)
}

// newFarm starts a farm of the Node.js worker serving the fixture module
// (unless cfg.Args says another) and kills it when the test ends, checking
// that no worker process is left.
func newFarm(t testing.TB, cfg farm.Config) *farm.Farm {
	t.Helper()
	needNode(t)
	cfg.Path = workerBin
	if cfg.Args == nil {
		cfg.Args = []string{fixture}
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	f, err := farm.New(cfg)
	if err != nil {
		t.Fatalf("farm.New: %v", err)
	}
	t.Cleanup(func() {
		f.Kill()
		testutil.NoChildren(t, 2*time.Second)
	})
	return f
}

// testLogger logs warnings and errors into the test's log; a worker whose
// data-plane socket the host could not use fails the test, since the SDK
// offers one unless WORKESTRATOR_DATA_PLANE=grpc.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", b)
	if bytes.Contains(b, []byte("data plane socket unusable")) {
		w.t.Errorf("the host fell back to the gRPC stream")
	}
	return len(b), nil
}
