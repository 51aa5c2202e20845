// Package nsraftv1 is the Go code generated from api/nsraft/v1/agent.proto
// by protoc-gen-go and protoc-gen-go-grpc (see package api for how to
// regenerate it): the messages hosts, agents and followers exchange, and
// the NodeAgent service. Do not edit the generated files.
//
// It imports nothing of this module.
package nsraftv1
