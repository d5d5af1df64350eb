package remote

import (
	"fmt"
	"strings"
)

// DefaultPool is the pool of hosts and agents that name none.
const DefaultPool = "default"

// Subjects are the NATS subjects of one pool.
type Subjects struct {
	// Agents carries the agents' announcements (join, heartbeat, drain,
	// bye) to the hosts.
	Agents string
	// Discover asks every agent to announce itself now.
	Discover string
	// Hosts carries the hosts' heartbeats and byes to the agents.
	Hosts string

	prefix string
}

// PoolSubjects returns the subjects of pool, or an error naming what is
// wrong with the name: it must be a NATS subject token (letters, digits,
// '-', '_').
func PoolSubjects(pool string) (Subjects, error) {
	if err := ValidToken(pool); err != nil {
		return Subjects{}, fmt.Errorf("pool %q: %w", pool, err)
	}
	p := "workestrator." + pool
	return Subjects{Agents: p + ".agents", Discover: p + ".discover", Hosts: p + ".hosts", prefix: p}, nil
}

// Agent is the subject of one agent's calls.
func (s Subjects) Agent(id string) string { return s.prefix + ".agent." + id }

// Host is the subject of one host's replies.
func (s Subjects) Host(id string) string { return s.prefix + ".host." + id }

// ValidToken checks that s can be one token of a subject.
func ValidToken(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if len(s) > 64 {
		return fmt.Errorf("a name of %d bytes (at most 64)", len(s))
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}); i >= 0 {
		return fmt.Errorf("character %q: only letters, digits, '-' and '_'", s[i])
	}
	return nil
}
