package clustertest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// journal is a file the fixture's record method appends to.
type journal string

func newJournal(t testing.TB) journal { return journal(filepath.Join(t.TempDir(), "journal")) }

// count returns, for kind ("start" or "cancel"), how many lines each call
// id has.
func (j journal) count(t testing.TB, kind string) map[int]int {
	t.Helper()
	b, err := os.ReadFile(string(j))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := map[int]int{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == kind {
			id, _ := strconv.Atoi(f[1])
			n[id]++
		}
	}
	return n
}
