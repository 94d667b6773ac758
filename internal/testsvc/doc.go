// Package testsvc starts the real servers tests run against: redis-server
// and devmongo (FerretDB on SQLite), each on a free loopback port with its
// data in a temporary folder, stopped when the test ends.
//
// Tests fail, never skip, when a server is missing: `make test` installs
// and builds everything they need.
package testsvc
