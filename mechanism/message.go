package mechanism

// Flags of the plaintext of a sealed frame (CURVE's MESSAGE box, GSSAPI's
// wrapped token): RFC 26 defines only MORE; libzmq also marks a ZMTP command
// (PING, PONG, SUBSCRIBE, CANCEL) carried inside a MESSAGE with 0x02, and
// so do we. Both mechanisms use the same two bits.
const (
	MessageMore    byte = 0x01
	MessageCommand byte = 0x02
)

// MessageSealer protects the frames we send on a connection after its
// handshake, in a way its mechanism decides: CURVE's MESSAGE box
// (*[Sealer]), GSSAPI's wrap token. The transport gives it every frame,
// data or command (PING, PONG, SUBSCRIBE, CANCEL), with the frame's MORE
// and COMMAND bits as the inner flags, and sends each body it builds as
// one final data frame of its own (flags 00, no MORE), as libzmq sends
// CURVE's and GSSAPI's MESSAGE.
//
// A MessageSealer is not safe for concurrent use: the transport calls it
// from one writer at a time, and Close only when no Seal runs.
type MessageSealer interface {
	// Seal appends to dst the frame body that carries flags (a
	// combination of MessageMore and MessageCommand) and payload, and
	// returns the extended slice. dst may already hold bytes (a frame
	// header); payload must not overlap the bytes Seal appends. It must
	// append exactly SealedSize(len(payload)) bytes: the transport writes
	// the frame header first, and ends the connection if the count
	// differs. An error (a counter exhausted, a key closed) ends the
	// connection; it should be typed, so that callers can tell why.
	Seal(dst []byte, flags byte, payload []byte) ([]byte, error)
	// SealedSize returns the size of the body Seal appends for an n-byte
	// payload.
	SealedSize(n int) int
	// Close zeroes the keys; every later Seal fails. It is safe to call
	// more than once.
	Close()
}

// MessageOpener opens the frames the peer sends after the handshake, the
// bodies its MessageSealer built. The transport gives it the body of every
// frame it reads, whatever the frame's flags (libzmq passes every frame of
// a sealed session through its mechanism), and acts on the inner flags it
// returns: MessageMore continues the message, MessageCommand makes the
// payload a command body.
//
// A MessageOpener is not safe for concurrent use: the transport calls it
// from one reader at a time, and Close only when no Open runs.
type MessageOpener interface {
	// Open checks and opens body, appends the payload to dst and returns
	// the extended slice with the inner flags, masked to MessageMore and
	// MessageCommand. dst must not overlap body. A body that fails any
	// check returns a typed error (wrapping [zmtp.ErrMalformed] for bytes
	// that do not parse), and the connection ends.
	Open(dst []byte, body []byte) (flags byte, out []byte, err error)
	// MaxOverhead returns the most by which a body that Open accepts
	// may exceed the payload it carries. The transport adds it to
	// MaxMessageSize and MaxMessageBytes to refuse an oversized frame
	// from its header, before its body is read; a body over the payload
	// limit by more is refused unread. It must not change once the
	// session is handed over. The transport takes at most 64 KiB of it.
	MaxOverhead() int
	// Close zeroes the keys; every later Open fails. It is safe to call
	// more than once.
	Close()
}

var (
	_ MessageSealer = (*Sealer)(nil)
	_ MessageOpener = (*Opener)(nil)
)
