package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/workestrator/workestrator/plugins/examples/internal/exampleutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUsage(t *testing.T) {
	bin, cleanup, err := exampleutil.BuildWorker("github.com/workestrator/workestrator/plugins/examples/usage/worker")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := run(context.Background(), &out, bin); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("initialised %d workers\nadd(1, 2, 3) = 6\nrun(42) = 420\nadd(4, 5, 6) = 15\n", runtime.NumCPU())
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

// snippet is a file shown in README.md: its path in backquotes and a colon on
// one line, then, after a blank line, a fenced go block with its contents.
var snippet = regexp.MustCompile("(?ms)^`(plugins/examples/usage/[^`]+\\.go)`:\n\n```go\n(.*?)^```$")

// TestREADME checks that the README shows this example's files exactly as
// they are.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, m := range snippet.FindAllSubmatch(readme, -1) {
		path, block := string(m[1]), m[2]
		file, err := os.ReadFile("../../../" + path)
		if err != nil {
			t.Errorf("README.md shows %s: %v", path, err)
			continue
		}
		if !bytes.Equal(block, file) {
			t.Errorf("README.md's %s differs from the file", path)
		}
		shown[path] = true
	}
	for _, path := range []string{"plugins/examples/usage/worker/main.go", "plugins/examples/usage/main.go"} {
		if !shown[path] {
			t.Errorf("README.md does not show %s", path)
		}
	}
}
