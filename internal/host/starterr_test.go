package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
)

// Each go-plugin start failure that the host knows by its text only is
// made to happen, and classified as goPluginStartErrors says: a go-plugin
// whose texts change fails here.
func TestGoPluginStartErrorTexts(t *testing.T) {
	fixture := testutil.MustBuild(t, testutil.Worker)
	notWorker := testutil.MustBuild(t, "./internal/testutil/fixtures/notworker")
	badCore := filepath.Join(t.TempDir(), "badcore")
	if err := os.WriteFile(badCore, []byte("#!/bin/sh\necho '9|1|unix|/nonexistent|grpc'\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]LaunchConfig{
		"incompatible API version":                  {Path: fixture, Env: []string{"FIXTURE_PROTOCOL=99"}},
		"incompatible core API version":             {Path: badCore},
		"Unrecognized remote plugin message":        {Path: notWorker},
		"timeout while waiting for plugin to start": {Path: "/bin/sleep", Args: []string{"60"}, StartTimeout: 300 * time.Millisecond},
	}
	if len(cases) != len(goPluginStartErrors) {
		t.Fatalf("%d cases for %d texts", len(cases), len(goPluginStartErrors))
	}
	for _, e := range goPluginStartErrors {
		cfg, ok := cases[e.text]
		if !ok {
			t.Errorf("no case for %q", e.text)
			continue
		}
		cfg.Name, cfg.SocketDir = "worker-0", t.TempDir()
		_, err := Launch(context.Background(), cfg)
		if err == nil || !errors.Is(err, e.kind) || !strings.Contains(err.Error(), e.text) {
			t.Errorf("%s: err = %v; want %v with go-plugin's %q", cfg.Path, err, e.kind, e.text)
		}
	}
}
