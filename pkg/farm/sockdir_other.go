//go:build !linux

package farm

// fastSocketBase returns "": the sockets stay in the temporary directory.
func fastSocketBase(string) string { return "" }

// fastSocketBases returns none.
func fastSocketBases() []string { return nil }
