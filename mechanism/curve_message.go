package mechanism

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/zmtpsec/zmtpsec/internal/box"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// messagePrefix is the start of every MESSAGE command body: 07 "MESSAGE".
const messagePrefix = "\x07MESSAGE"

// MessageOverhead is how much longer a MESSAGE body is than the payload it
// carries: name (8), short nonce (8), box tag (16) and flags (1).
const MessageOverhead = len(messagePrefix) + 8 + box.Overhead + 1

// Sealer turns message frames into CURVE MESSAGE command bodies for one
// direction of one connection: CURVE's [MessageSealer]. It is not safe for
// concurrent use.
type Sealer struct {
	key    box.Key
	prefix string
	next   uint64 // the short nonce of the next MESSAGE; 0 once exhausted
}

// SealedSize returns the size of the MESSAGE body that carries an n-byte
// payload.
func SealedSize(n int) int { return MessageOverhead + n }

// SealedSize returns the size of the MESSAGE body that carries an n-byte
// payload, as the function SealedSize does.
func (s *Sealer) SealedSize(n int) int { return MessageOverhead + n }

// Seal appends to dst the MESSAGE command body (07 "MESSAGE", short nonce,
// box) carrying flags and payload. dst may be the caller's buffer with a
// frame header already in it; payload must not overlap the bytes Seal
// appends. It fails only when the nonce counter is exhausted, after which
// the connection must end.
func (s *Sealer) Seal(dst []byte, flags byte, payload []byte) ([]byte, error) {
	if s.next == 0 {
		return dst, &CurveError{Command: zmtp.CmdMessage, Err: ErrNonceExhausted}
	}
	n := s.next
	if n == math.MaxUint64 {
		s.next = 0
	} else {
		s.next++
	}
	var nonce [24]byte
	copy(nonce[:], s.prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	dst = append(dst, messagePrefix...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	return box.SealFlagged(dst, flags, payload, &nonce, &s.key), nil
}

// Close zeroes the session key. Every later Seal fails with
// [ErrNonceExhausted]. The caller must not call it while Seal runs.
func (s *Sealer) Close() {
	s.key.Zero()
	s.next = 0
}

// Opener turns CURVE MESSAGE command bodies back into frames for one
// direction of one connection: CURVE's [MessageOpener]. It is not safe for
// concurrent use.
type Opener struct {
	key    box.Key
	prefix string
	last   uint64 // the greatest short nonce accepted so far
}

// Open checks and opens a MESSAGE command body. It appends the payload to
// dst and returns the plaintext flags (MessageMore, MessageCommand; other
// bits are cleared, as libzmq masks them). The short nonce must be greater
// than every one accepted before (gaps are allowed, as in libzmq); a body
// that fails any check leaves the Opener unchanged and returns an error
// wrapping [ErrNonceReplay], [ErrDecrypt] or [zmtp.ErrMalformed]. dst must not
// overlap body.
func (o *Opener) Open(dst []byte, body []byte) (flags byte, out []byte, err error) {
	if len(body) < len(messagePrefix) || string(body[:len(messagePrefix)]) != messagePrefix {
		return 0, dst, &CurveError{Command: zmtp.CmdMessage, Err: &zmtp.MalformedError{What: "MESSAGE", Detail: "not a MESSAGE command"}}
	}
	if len(body) < MessageOverhead {
		return 0, dst, &CurveError{Command: zmtp.CmdMessage, Err: &zmtp.MalformedError{What: "MESSAGE", Detail: fmt.Sprintf("%d bytes, want at least %d", len(body), MessageOverhead)}}
	}
	n := binary.BigEndian.Uint64(body[8:16])
	if n <= o.last {
		return 0, dst, &CurveError{Command: zmtp.CmdMessage, Err: ErrNonceReplay}
	}
	var nonce [24]byte
	copy(nonce[:], o.prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	flags, out, ok := box.OpenFlagged(dst, body[16:], &nonce, &o.key)
	if !ok {
		return 0, dst, &CurveError{Command: zmtp.CmdMessage, Err: ErrDecrypt}
	}
	o.last = n
	return flags & (MessageMore | MessageCommand), out, nil
}

// MaxOverhead returns [MessageOverhead]: a CURVE MESSAGE body is always
// exactly that much longer than its payload.
func (o *Opener) MaxOverhead() int { return MessageOverhead }

// Close zeroes the session key. Every later Open fails with
// [ErrNonceReplay]. The caller must not call it while Open runs.
func (o *Opener) Close() {
	o.key.Zero()
	o.last = math.MaxUint64
}
