package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// parseLine turns one input line into message frames: TAB-separated, each
// frame in hex with -hex.
func parseLine(line []byte, useHex bool) ([][]byte, error) {
	parts := bytes.Split(line, []byte{'\t'})
	msg := make([][]byte, len(parts))
	for i, p := range parts {
		if !useHex {
			msg[i] = append([]byte(nil), p...)
			continue
		}
		b := make([]byte, hex.DecodedLen(len(p)))
		if _, err := hex.Decode(b, p); err != nil {
			return nil, fmt.Errorf("frame %d: %v", i+1, err)
		}
		msg[i] = b
	}
	return msg, nil
}

// appendLine formats a message as one output line (with the newline).
// Without -hex, bytes that would break the line format (TAB, newline, CR)
// and other control bytes are escaped as \xNN so that a line always holds
// exactly one message.
func appendLine(b []byte, msg [][]byte, useHex bool) []byte {
	for i, f := range msg {
		if i > 0 {
			b = append(b, '\t')
		}
		if useHex {
			b = hex.AppendEncode(b, f)
			continue
		}
		for _, c := range f {
			if c < 0x20 || c == 0x7f || c == '\\' {
				b = fmt.Appendf(b, "\\x%02x", c)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '\n')
}
