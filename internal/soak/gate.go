package soak

import (
	"net"
	"sync"
)

// Gate is a TCP proxy to one address whose traffic can be held, each way
// on its own: a partition of one link, without network namespaces. Safe
// for concurrent use.
type Gate struct {
	ln net.Listener
	to string
	wg sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond
	in, out bool // held: toward the clients, toward the address
	conns   []net.Conn
	closed  bool
}

// NewGate listens on a free loopback port and forwards each connection to
// the address to (host:port).
func NewGate(to string) (*Gate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &Gate{ln: ln, to: to}
	g.cond = sync.NewCond(&g.mu)
	g.wg.Go(g.accept)
	return g, nil
}

// Addr is the address clients connect to instead of to.
func (g *Gate) Addr() string { return g.ln.Addr().String() }

func (g *Gate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", g.to)
		if err != nil {
			c.Close()
			continue
		}
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			c.Close()
			u.Close()
			return
		}
		g.conns = append(g.conns, c, u)
		g.mu.Unlock()
		g.wg.Go(func() { g.pipe(u, c, &g.out) })
		g.wg.Go(func() { g.pipe(c, u, &g.in) })
	}
}

// pipe copies src to dst, waiting while *held.
func (g *Gate) pipe(dst, src net.Conn, held *bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		g.mu.Lock()
		for *held && !g.closed {
			g.cond.Wait()
		}
		g.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Hold holds (or, false, releases) the traffic toward the clients (in)
// and toward the address (out). Held bytes wait in the gate and in the
// sockets' buffers; none is lost.
func (g *Gate) Hold(in, out bool) {
	g.mu.Lock()
	g.in, g.out = in, out
	g.mu.Unlock()
	g.cond.Broadcast()
}

// Close closes the gate and its connections, and waits for its
// goroutines.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	g.cond.Broadcast()
	g.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	g.wg.Wait()
}
