package farm

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// dropProxy forwards TCP to a target; drop closes every connection and
// refuses new ones for a while.
type dropProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	until  time.Time
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.drop(0) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			refuse := time.Now().Before(p.until)
			p.mu.Unlock()
			if refuse {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *dropProxy) addr() string { return p.ln.Addr().String() }

func (p *dropProxy) drop(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.until = time.Now().Add(d)
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// An agent's farm does not poll its workers' sockets unless told to.
func TestAgentIdleSpinOffByDefault(t *testing.T) {
	for set, want := range map[time.Duration]time.Duration{0: IdleSpinOff, 30 * time.Microsecond: 30 * time.Microsecond, IdleSpinOff: IdleSpinOff} {
		a, err := newAgent(AgentConfig{Farm: Config{Path: "/bin/true", IdleSpin: set}})
		if err != nil {
			t.Fatal(err)
		}
		if got := a.cfg.Farm.IdleSpin; got != want {
			t.Errorf("Farm.IdleSpin %v: the agent's farm has %v, want %v", set, got, want)
		}
	}
}
