// Package comment is the domain of commentd: the Comment type, its ids,
// validation and the stable error codes clients see.
//
// It imports only the standard library; the packages that reach Redis and
// MongoDB depend on it, never the other way round.
package comment
