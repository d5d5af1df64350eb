// Package remotepb holds the messages between a host farm and its agents
// over NATS, generated from remote.proto.
package remotepb

//go:generate protoc -I . -I ../../../pkg/plugin/workerpb --go_out=. --go_opt=paths=source_relative --go_opt=Mworker.proto=github.com/workestrator/workestrator/pkg/plugin/workerpb remote.proto
