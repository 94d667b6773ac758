package comment

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// An id is 12 bytes written as 24 hex digits, a valid MongoDB ObjectId:
//
//	[0:4]  seconds since the Unix epoch, big endian (as ObjectId)
//	[4:6]  milliseconds within that second
//	[6:9]  random, fixed per process
//	[9:12] counter, random start
//
// Putting milliseconds where ObjectId has random bytes keeps ids of
// different nodes ordered by creation time to the millisecond, which is what
// history pages sort by. ObjectId.Timestamp still reads the first 4 bytes.
var (
	processRand [3]byte
	idCounter   atomic.Uint32
)

func init() {
	var b [7]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("comment: no randomness: " + err.Error())
	}
	copy(processRand[:], b[:3])
	idCounter.Store(binary.BigEndian.Uint32(b[3:]))
}

// NewID returns a new id for a comment created at t.
func NewID(t time.Time) string {
	var b [12]byte
	ms := t.UnixMilli()
	binary.BigEndian.PutUint32(b[0:4], uint32(ms/1000))
	binary.BigEndian.PutUint16(b[4:6], uint16(ms%1000))
	copy(b[6:9], processRand[:])
	n := idCounter.Add(1)
	b[9], b[10], b[11] = byte(n>>16), byte(n>>8), byte(n)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether s is 24 lower- or upper-case hex digits.
func ValidID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IDFloor returns an id that sorts before the id of every comment created
// at t or later: its seconds and milliseconds, then zeros.
func IDFloor(t time.Time) string {
	var b [12]byte
	ms := t.UnixMilli()
	binary.BigEndian.PutUint32(b[0:4], uint32(ms/1000))
	binary.BigEndian.PutUint16(b[4:6], uint16(ms%1000))
	return hex.EncodeToString(b[:])
}

// IDTime returns the time an id of NewID was made, to the millisecond (the
// second of an ObjectId made elsewhere).
func IDTime(id string) time.Time {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 12 {
		return time.Time{}
	}
	ms := int64(binary.BigEndian.Uint32(b[0:4]))*1000 + int64(binary.BigEndian.Uint16(b[4:6])%1000)
	return time.UnixMilli(ms).UTC()
}
