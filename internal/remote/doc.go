// Package remote holds what a host farm and its agents share to talk over
// NATS: the subjects of a pool, the chunking of messages bigger than the
// server's max payload, the connection options (authentication, TLS,
// reconnection) and the embedded nats-server.
package remote
