// Package goclient holds the contract tests of commentd with the Go
// Socket.IO client github.com/zishang520/socket.io/clients/socket/v3, in a
// module of its own so that the service's go.mod does not carry a client's
// dependencies. They need running servers: `go test ./cmd/commentd/ -run
// TestGoClient` (part of make test) starts them and runs these.
package goclient
