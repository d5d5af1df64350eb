package host

import (
	"fmt"
	"os"
	"strings"
)

// checkHostEnv checks the names of LaunchConfig.HostEnv.
func checkHostEnv(names []string) error {
	for i, n := range names {
		if !ValidHostEnvName(n) {
			return fmt.Errorf("HostEnv[%d] = %q: a variable name, or a prefix ending in '*'", i, n)
		}
	}
	return nil
}

// ValidHostEnvName reports whether n may be in LaunchConfig.HostEnv: a
// variable name, or a prefix ending in '*' (no '=', '*' only at the end).
func ValidHostEnvName(n string) bool {
	base := strings.TrimSuffix(n, "*")
	return (base != "" || n == "*") && !strings.ContainsAny(base, "=*\x00")
}

// allowedHostEnv returns the host's variables that names allow.
func allowedHostEnv(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); EnvAllowed(names, k) {
			env = append(env, kv)
		}
	}
	return env
}

// EnvAllowed reports whether one of names (a trailing '*' matches a
// prefix) matches the variable key.
func EnvAllowed(names []string, key string) bool {
	for _, n := range names {
		if p, ok := strings.CutSuffix(n, "*"); ok && strings.HasPrefix(key, p) || n == key {
			return true
		}
	}
	return false
}
