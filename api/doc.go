// Package api holds the agent's gRPC protocol: nsraft/v1/agent.proto, the
// Go code generated from it in api/nsraftv1, and the conversions between
// collector.Sample and the protocol's Sample (convert.go).
//
// The generated code is committed. To regenerate it after changing the
// proto (needs protoc, e.g. Debian's protobuf-compiler):
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go generate ./api
//
// api imports collector and api/nsraftv1; it must not import the agent,
// the adapters or policy, which all import it.
package api
