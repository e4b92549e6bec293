package zmtp

import (
	"encoding/binary"
	"fmt"
)

// MaxPingContext is the most context a PONG echoes: a longer PING context is
// truncated to its first 16 bytes, as 37/ZMTP and libzmq do.
const MaxPingContext = 16

// Ping is the data of a PING command. See 37/ZMTP, "Connection Heartbeating".
type Ping struct {
	// TTL is the time-to-live the sender asks for, in tenths of a second;
	// 0 means none.
	TTL uint16
	// Context is echoed (up to 16 bytes) in the PONG. When parsed it aliases
	// the input.
	Context []byte
}

// ParsePing parses the data of a PING command: a 2-byte TTL and a context.
// A context longer than 16 bytes is accepted (libzmq sends its peers such
// PINGs in its own tests); the PONG echoes its first 16 bytes.
func ParsePing(data []byte) (Ping, error) {
	if len(data) < 2 {
		return Ping{}, malformed("PING", "%d bytes, want at least 2", len(data))
	}
	return Ping{TTL: binary.BigEndian.Uint16(data), Context: data[2:]}, nil
}

// AppendPing appends the body of a PING command (name included) to b.
func AppendPing(b []byte, p Ping) []byte {
	b = append(b, byte(len(CmdPing)))
	b = append(b, CmdPing...)
	b = binary.BigEndian.AppendUint16(b, p.TTL)
	return append(b, p.Context...)
}

// AppendPong appends the body of the PONG that answers a PING with the given
// context (name included) to b; the context is cut to 16 bytes.
func AppendPong(b []byte, context []byte) []byte {
	if len(context) > MaxPingContext {
		context = context[:MaxPingContext]
	}
	b = append(b, byte(len(CmdPong)))
	b = append(b, CmdPong...)
	return append(b, context...)
}

// AppendSubscribe appends the body of a SUBSCRIBE command (ZMTP 3.1) for
// topic to b.
func AppendSubscribe(b []byte, topic []byte) []byte {
	b = append(b, byte(len(CmdSubscribe)))
	b = append(b, CmdSubscribe...)
	return append(b, topic...)
}

// AppendCancel appends the body of a CANCEL command (ZMTP 3.1) for topic to b.
func AppendCancel(b []byte, topic []byte) []byte {
	b = append(b, byte(len(CmdCancel)))
	b = append(b, CmdCancel...)
	return append(b, topic...)
}

// MaxErrorReason is the longest reason an ERROR command can carry.
const MaxErrorReason = 255

// ParseErrorReason parses the data of an ERROR command: a 1-byte length and
// the reason, with nothing after it.
func ParseErrorReason(data []byte) (string, error) {
	if len(data) < 1 || int(data[0]) != len(data)-1 {
		return "", malformed("ERROR", "reason length does not match the %d-byte body", len(data))
	}
	return string(data[1:]), nil
}

// AppendError appends the body of an ERROR command (name included) to b. It
// panics if reason is longer than 255 bytes, which is a programming error.
func AppendError(b []byte, reason string) []byte {
	b = append(b, byte(len(CmdError)))
	b = append(b, CmdError...)
	return appendErrorData(b, reason)
}

// ErrorCommand returns the ERROR command with the given reason. It panics if
// reason is longer than 255 bytes, which is a programming error.
func ErrorCommand(reason string) Command {
	return Command{Name: CmdError, Data: appendErrorData(make([]byte, 0, 1+len(reason)), reason)}
}

// appendErrorData appends the data of an ERROR command, the reason with its
// 1-byte length, to b: the one encoder of ERROR.
func appendErrorData(b []byte, reason string) []byte {
	if len(reason) > MaxErrorReason {
		panic(fmt.Sprintf("zmtp: ERROR reason of %d bytes", len(reason)))
	}
	b = append(b, byte(len(reason)))
	return append(b, reason...)
}

// AppendReady appends the body of a READY command carrying m (name included)
// to b.
func AppendReady(b []byte, m Metadata) []byte {
	b = append(b, byte(len(CmdReady)))
	b = append(b, CmdReady...)
	return m.Append(b)
}

// ReadyCommand returns the READY command carrying m; its data is m as
// [Metadata.Append] encodes it.
func ReadyCommand(m Metadata) Command { return Command{Name: CmdReady, Data: m.Append(nil)} }

// Subscription message bodies of ZMTP 3.0: a message frame whose first byte is
// 1 (subscribe) or 0 (cancel), followed by the topic.
const (
	SubscribeByte = 0x01
	CancelByte    = 0x00
)
