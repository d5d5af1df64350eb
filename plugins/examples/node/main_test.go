package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNodeExample(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	sdk := filepath.Join(root, "sdk", "node")
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI: no node binary in PATH")
		}
		t.Skip("SKIPPING THE NODE.JS EXAMPLE: no node binary in PATH")
	}
	if _, err := os.Stat(filepath.Join(sdk, "node_modules")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = sdk
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	var out bytes.Buffer
	o := options{
		worker:  filepath.Join(sdk, "bin", "workestrator-worker"),
		module:  "calc.js",
		points:  200000,
		chunks:  8,
		workers: 2,
	}
	if err := run(context.Background(), &out, o); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	want := regexp.MustCompile(`^worker 0: pid \d+, Node.js v\d+\S*
worker 1: pid \d+, Node.js v\d+\S*
RunMethod\("info"\) answered by one of them: true
π ≈ 3\.1\d+ from 200000 points in 8 chunks on 2 Node.js workers
the same count as Go's montecarlo.Inside: true
$`)
	if !want.MatchString(out.String()) {
		t.Fatalf("output:\n%s", out.String())
	}
}
