// Package clustertest holds the scale-out tests: a host farm with its
// embedded NATS server and real `workestrator serve` agent processes, on
// loopback or in network namespaces (internal/testutil/netns).
package clustertest
