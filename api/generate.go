package api

//go:generate protoc -I . --go_out=. --go_opt=module=github.com/nsraft/nsraft/api --go-grpc_out=. --go-grpc_opt=module=github.com/nsraft/nsraft/api nsraft/v1/agent.proto
