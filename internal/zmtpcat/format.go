package zmtpcat

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// parseLine turns one input line (without its newline) into a message: its
// frames are separated by TAB. With useHex each frame is in hex; otherwise
// it is text in which \xHH stands for the byte HH (either case), so that
// what appendLine prints can be sent back as it is. A backslash not
// followed by x and two hex digits is itself.
func parseLine(line []byte, useHex bool) ([][]byte, error) {
	parts := bytes.Split(line, []byte{'\t'})
	msg := make([][]byte, len(parts))
	for i, p := range parts {
		if !useHex {
			msg[i] = unescape(p)
			continue
		}
		f := make([]byte, hex.DecodedLen(len(p)))
		if _, err := hex.Decode(f, p); err != nil {
			return nil, fmt.Errorf("frame %d: %v", i+1, err)
		}
		msg[i] = f
	}
	return msg, nil
}

func unescape(p []byte) []byte {
	f := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) && p[i+1] == 'x' {
			var b [1]byte
			if _, err := hex.Decode(b[:], p[i+2:i+4]); err == nil {
				f = append(f, b[0])
				i += 3
				continue
			}
		}
		f = append(f, p[i])
	}
	return f
}

// appendLine appends msg as one output line, newline included: frames
// separated by TAB, each as appendFrame writes it.
func appendLine(b []byte, msg [][]byte, useHex bool) []byte {
	for i, f := range msg {
		if i > 0 {
			b = append(b, '\t')
		}
		b = appendFrame(b, f, useHex)
	}
	return append(b, '\n')
}

// appendFrame appends one frame: in hex, or as text in which control bytes
// (TAB and newline among them), DEL and the backslash are written \xNN, so
// that a line always holds exactly one message and reads back the same.
func appendFrame(b, f []byte, useHex bool) []byte {
	if useHex {
		return hex.AppendEncode(b, f)
	}
	for _, c := range f {
		if c < 0x20 || c == 0x7f || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"
