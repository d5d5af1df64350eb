// Package exampleutil builds an example's worker binary (and any other
// command it runs) on the fly, so that `go run ./plugins/examples/<name>`
// works on a fresh clone.
package exampleutil

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
)

// BuildWorker compiles the Go package pkg (an import path) into a temporary
// directory and returns the binary's path and a function that removes it.
func BuildWorker(pkg string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "workestrator-example-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "worker")
	if err := goBuild(bin, pkg); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build worker %s: %w", pkg, err)
	}
	return bin, cleanup, nil
}

// Build compiles the Go main packages pkgs (import paths) with one go build
// into a temporary directory, and returns the binaries' paths in the order
// of pkgs, each named after the last element of its import path (as go
// build names them), and a function that removes them. Two packages of the
// same last element are an error.
func Build(pkgs ...string) (paths []string, cleanup func(), err error) {
	if len(pkgs) == 0 {
		return nil, nil, fmt.Errorf("build: no package")
	}
	seen := make(map[string]bool, len(pkgs))
	for _, pkg := range pkgs {
		name := path.Base(pkg)
		if seen[name] {
			return nil, nil, fmt.Errorf("build %v: two binaries named %q", pkgs, name)
		}
		seen[name] = true
	}
	dir, err := os.MkdirTemp("", "workestrator-example-")
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := goBuild(dir+string(filepath.Separator), pkgs...); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("build %v: %w", pkgs, err)
	}
	for _, pkg := range pkgs {
		paths = append(paths, filepath.Join(dir, path.Base(pkg)))
	}
	return paths, cleanup, nil
}

// goBuild runs go build -o out pkgs; out ending in a separator is a
// directory for several binaries.
func goBuild(out string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", out}, pkgs...)...)
	// A static binary (no cgo) starts about 1.5 ms faster than one that
	// loads libc: it pays at every worker start and every TTL recycle.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	return cmd.Run()
}
