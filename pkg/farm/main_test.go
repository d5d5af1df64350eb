package farm_test

import (
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

var workerBin string

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, map[*string]string{&workerBin: testutil.Worker}))
}

// newFarm starts a farm of the fixture worker and kills it when the test
// ends, checking that no worker process is left.
func newFarm(t testing.TB, cfg farm.Config) *farm.Farm {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = workerBin
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

// testLogger logs warnings and errors into the test's log.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", b)
	return len(b), nil
}
