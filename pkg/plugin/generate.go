package plugin

//go:generate protoc --proto_path=workerpb --go_out=workerpb --go_opt=paths=source_relative --go-grpc_out=workerpb --go-grpc_opt=paths=source_relative worker.proto
