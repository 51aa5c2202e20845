// Package api holds the agent's gRPC protocol: nsraft/v1/agent.proto and
// the Go code generated from it in api/nsraftv1.
//
// The generated code is committed. To regenerate it after changing the
// proto (needs protoc, e.g. Debian's protobuf-compiler):
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go generate ./api
package api

//go:generate protoc -I . --go_out=. --go_opt=module=github.com/nsraft/nsraft/api --go-grpc_out=. --go-grpc_opt=module=github.com/nsraft/nsraft/api nsraft/v1/agent.proto
