package host

// Transport names the data plane a connection uses: "socket" or "grpc".
func (c *Conn) Transport() string { return c.tr.name() }

// DataPlane returns the socket data plane the worker offered at start.
func (i *Info) DataPlane() string { return i.dataPlane }
