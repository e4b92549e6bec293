package zmtp

import (
	"encoding/binary"
	"math"
)

// Flags is the flags byte that starts every frame. See 23/ZMTP, "Framing".
type Flags byte

// Frame flag bits. Bits 3 to 7 are reserved; like libzmq, a reader ignores
// them (they are masked off) and a writer never sets them.
const (
	FlagMore    Flags = 0x01 // more frames of this message follow
	FlagLong    Flags = 0x02 // the size field is 8 bytes, not 1
	FlagCommand Flags = 0x04 // the frame is a command, not a message frame
)

// MaxShortSize is the largest body a frame with a 1-byte size field carries.
const MaxShortSize = 255

// maxFrameSize is the largest body size the 8-byte size field may announce
// (2^63-1); a size with the top bit set is malformed.
const maxFrameSize = math.MaxInt64

// Frame is one ZMTP frame as read by [Reader.ReadFrame]. Body is a view into
// the reader's buffer, valid until the next call on the Reader.
type Frame struct {
	Flags Flags // FlagMore and FlagCommand; FlagLong is a detail of the encoding
	Body  []byte
}

// More reports whether more frames of the same message follow.
func (f Frame) More() bool { return f.Flags&FlagMore != 0 }

// IsCommand reports whether the frame is a command frame.
func (f Frame) IsCommand() bool { return f.Flags&FlagCommand != 0 }

// FrameHeaderSize returns the size of the header (flags and size field) of a
// frame whose body is n bytes long: 2 up to 255 bytes, 9 above.
func FrameHeaderSize(n int) int {
	if n > MaxShortSize {
		return 9
	}
	return 2
}

// AppendFrameHeader appends the header of a frame with the given flags and a
// body of n bytes. The LONG bit is set exactly when n exceeds 255, as libzmq
// does; a FlagLong passed in flags is ignored.
func AppendFrameHeader(b []byte, flags Flags, n int) []byte {
	flags &= FlagMore | FlagCommand
	if n > MaxShortSize {
		b = append(b, byte(flags|FlagLong))
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, byte(flags), byte(n))
}

// AppendFrame appends a whole frame: header and body.
func AppendFrame(b []byte, flags Flags, body []byte) []byte {
	b = AppendFrameHeader(b, flags, len(body))
	return append(b, body...)
}

// ParseFrameHeader parses the frame header at the start of b. It returns the
// flags (without FlagLong and without reserved bits), the body size, and the
// header length; ok is false if b does not yet hold the whole header. A
// command frame with MORE set, or a size with its top bit set, is malformed.
func ParseFrameHeader(b []byte) (flags Flags, size uint64, hdr int, ok bool, err error) {
	if len(b) < 2 {
		return 0, 0, 0, false, nil
	}
	raw := Flags(b[0])
	flags = raw & (FlagMore | FlagCommand)
	if flags == FlagMore|FlagCommand {
		return 0, 0, 0, false, malformed("frame", "command frame with the MORE flag (flags %#02x)", byte(raw))
	}
	if raw&FlagLong == 0 {
		return flags, uint64(b[1]), 2, true, nil
	}
	if len(b) < 9 {
		return 0, 0, 0, false, nil
	}
	size = binary.BigEndian.Uint64(b[1:9])
	if size > maxFrameSize {
		return 0, 0, 0, false, malformed("frame", "size %#x has its top bit set", size)
	}
	return flags, size, 9, true, nil
}
