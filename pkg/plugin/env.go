package plugin

import (
	"fmt"
	"os"
	"strings"
)

// checkHostEnv checks the names of LaunchConfig.HostEnv: non-empty, no
// '=', and '*' only at the end.
func checkHostEnv(names []string) error {
	for i, n := range names {
		base := strings.TrimSuffix(n, "*")
		if base == "" && n != "*" || strings.ContainsAny(base, "=*\x00") {
			return fmt.Errorf("HostEnv[%d] = %q: a variable name, or a prefix ending in '*'", i, n)
		}
	}
	return nil
}

// allowedHostEnv returns the host's variables that names allow.
func allowedHostEnv(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); envAllowed(names, k) {
			env = append(env, kv)
		}
	}
	return env
}

// envAllowed reports whether one of names (a trailing '*' matches a
// prefix) matches the variable key.
func envAllowed(names []string, key string) bool {
	for _, n := range names {
		if p, ok := strings.CutSuffix(n, "*"); ok && strings.HasPrefix(key, p) || n == key {
			return true
		}
	}
	return false
}
