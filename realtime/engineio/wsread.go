package engineio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
)

// WebSocket opcodes a client sends besides those of frame.go.
const (
	opContinuation = 0x0
	opPing         = 0x9
)

// Close codes (RFC 6455 section 7.4.1).
const (
	closeProtocolError = 1002
	closeTooBig        = 1009
)

// frameError is a client's violation of RFC 6455: the session is closed
// with a close frame carrying code.
type frameError struct {
	code int
	msg  string
}

func (e *frameError) Error() string { return "engineio: websocket: " + e.msg }

func protocolError(msg string) error { return &frameError{code: closeProtocolError, msg: msg} }

// errCloseFrame is what wsReader.next returns when the client sent a close
// frame.
var errCloseFrame = errors.New("engineio: websocket: close frame")

// readBufs are the read buffers of WebSocket sessions. A session borrows
// one only while bytes of it are buffered: an idle session, blocked on the
// next frame header, holds none. gorilla's reader kept one per session
// (its Conn, 1 KiB and more) and a deeper stack.
var readBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// wsReader reads a client's frames (RFC 6455 section 5, no extensions:
// none is negotiated) and hands over whole messages. Only the session's
// reader goroutine uses it.
type wsReader struct {
	nc     net.Conn
	br     *bufio.Reader // borrowed from readBufs; nil when none is buffered
	limit  int64         // largest message, bytes
	onPing func(payload []byte)
	hdr    [8]byte
	mask   [4]byte
}

func newWSReader(nc net.Conn, limit int64, onPing func(payload []byte)) *wsReader {
	return &wsReader{nc: nc, limit: limit, onPing: onPing}
}

// release returns the read buffer once it holds nothing more.
func (r *wsReader) release() {
	if r.br != nil && r.br.Buffered() == 0 {
		r.br.Reset(nil)
		readBufs.Put(r.br)
		r.br = nil
	}
}

// wait reads the first two bytes of a header into hdr with no buffer held:
// an idle session waits here, on a shallow stack. The rest of the frame
// comes through a borrowed buffer.
func (r *wsReader) wait() error {
	for n := 0; n < 2; {
		m, err := r.nc.Read(r.hdr[n:2])
		if err != nil {
			return err
		}
		n += m
	}
	return nil
}

// drop returns the read buffer, discarding what it holds: the session
// reads no more.
func (r *wsReader) drop() {
	if r.br != nil {
		r.br.Reset(nil)
		readBufs.Put(r.br)
		r.br = nil
	}
}

// read fills p from the buffer, borrowing one if need be.
func (r *wsReader) read(p []byte) error {
	if r.br == nil {
		r.br = readBufs.Get().(*bufio.Reader)
		r.br.Reset(r.nc)
	}
	_, err := io.ReadFull(r.br, p)
	return err
}

// next returns the next message and its opcode (opText or opBinary), the
// caller's to keep. Pings go to onPing, pongs are dropped; a close frame
// ends with errCloseFrame, a violation with a *frameError.
func (r *wsReader) next() (op byte, data []byte, err error) {
	var msg []byte
	var msgOp byte // opcode of the message being reassembled; 0 for none
	for {
		if r.br == nil {
			if err := r.wait(); err != nil {
				return 0, nil, err
			}
		} else if err := r.read(r.hdr[:2]); err != nil {
			return 0, nil, err
		}
		fin, opcode := r.hdr[0]&0x80 != 0, r.hdr[0]&0x0f
		if r.hdr[0]&0x70 != 0 {
			return 0, nil, protocolError("reserved bits set")
		}
		if r.hdr[1]&0x80 == 0 {
			return 0, nil, protocolError("unmasked client frame")
		}
		n := int64(r.hdr[1] & 0x7f)
		switch n {
		case 126:
			if err := r.read(r.hdr[:2]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint16(r.hdr[:2]))
		case 127:
			if err := r.read(r.hdr[:8]); err != nil {
				return 0, nil, err
			}
			u := binary.BigEndian.Uint64(r.hdr[:8])
			if u>>63 != 0 {
				return 0, nil, protocolError("frame length over 2^63")
			}
			n = int64(u)
		}
		if err := r.read(r.mask[:]); err != nil {
			return 0, nil, err
		}

		if opcode&0x8 != 0 { // control frame
			if !fin || n > 125 {
				return 0, nil, protocolError("fragmented or long control frame")
			}
			p := make([]byte, n)
			if err := r.read(p); err != nil {
				return 0, nil, err
			}
			r.unmask(p)
			r.release()
			switch opcode {
			case opClose:
				return 0, nil, errCloseFrame
			case opPing:
				r.onPing(p)
			case opPong:
			default:
				return 0, nil, protocolError("unknown control opcode")
			}
			continue
		}

		switch opcode {
		case opContinuation:
			if msgOp == 0 {
				return 0, nil, protocolError("continuation frame with nothing to continue")
			}
		case opText, opBinary:
			if msgOp != 0 {
				return 0, nil, protocolError("new message before the last one ended")
			}
			msgOp = opcode
		default:
			return 0, nil, protocolError("unknown data opcode")
		}
		// Checked before reading: a huge length is refused at once.
		if int64(len(msg))+n > r.limit {
			return 0, nil, &frameError{code: closeTooBig, msg: "message over the read limit"}
		}
		start := len(msg)
		msg = append(msg, make([]byte, n)...)
		if err := r.read(msg[start:]); err != nil {
			return 0, nil, err
		}
		r.unmask(msg[start:])
		r.release()
		if fin {
			if msg == nil {
				msg = []byte{}
			}
			return msgOp, msg, nil
		}
	}
}

// unmask XORs p, a frame's whole payload, with its masking key.
func (r *wsReader) unmask(p []byte) {
	for i := range p {
		p[i] ^= r.mask[i&3]
	}
}
