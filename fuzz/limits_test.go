package fuzz

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// FuzzReadMessageLimits reads post-handshake traffic with MaxMessageFrames
// and MaxMessageBytes in force and checks it against a slow reference
// decoder that applies the same limits: the same messages come out, and
// the read ends with a *transport.MessageTooLargeError exactly when the
// reference stopped at a limit.
func FuzzReadMessageLimits(f *testing.F) {
	for _, s := range readSeeds() {
		f.Add(s.chunk, uint8(2), uint16(100), s.data)
		f.Add(s.chunk, uint8(0), uint16(0), s.data)
	}
	f.Add(uint8(0), uint8(3), uint16(0), bytes.Repeat([]byte{byte(zmtp.FlagMore), 0}, 10))
	f.Add(uint8(0), uint8(7), uint16(10), testhelp.Cat(zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("0123456789")), zmtp.AppendFrame(nil, 0, nil)))
	f.Add(uint8(0), uint8(7), uint16(10), testhelp.Cat(zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("0123456789")), zmtp.AppendFrame(nil, 0, []byte("x"))))
	f.Add(uint8(0), uint8(7), uint16(10), command(zmtp.AppendSubscribe(nil, []byte("0123456789"))))
	f.Add(uint8(1), uint8(7), uint16(10), command(bytes.Repeat([]byte{'A'}, 70)))
	f.Fuzz(func(t *testing.T, chunk, frames uint8, maxBytes uint16, data []byte) {
		maxFrames := int(frames%8) + 1
		limitBytes := int64(maxBytes % 2048) // 0: no limit
		in := testhelp.Cat(greeting(1), ready("Socket-Type", "DEALER", "Identity", ""), data)
		c := transport.Server(newMemConn(in, int(chunk)), &transport.Config{
			SocketType: zmtp.ROUTER, HandshakeTimeout: time.Second,
			MaxMessageFrames: maxFrames, MaxMessageBytes: limitBytes,
		})
		defer c.Close()
		run(t, func() {
			if err := c.Handshake(); err != nil {
				t.Fatalf("valid handshake failed: %v", err)
			}
			var got [][][]byte
			var buf [][]byte
			var err error
			for len(got) <= len(data) {
				if buf, err = c.ReadMessage(buf); err != nil {
					break
				}
				cp := make([][]byte, len(buf))
				for i, fr := range buf {
					cp[i] = bytes.Clone(fr)
				}
				got = append(got, cp)
			}
			if err == nil {
				t.Fatalf("%d messages from %d bytes", len(got), len(data))
			}
			checkErrorText(t, err)
			want, atLimit := limitedMessages(data, maxFrames, limitBytes)
			if len(got) != len(want) {
				t.Fatalf("ReadMessage returned %d messages, the reference %d (err %v):\n got %q\nwant %q", len(got), len(want), err, got, want)
			}
			for i := range want {
				if len(got[i]) != len(want[i]) {
					t.Fatalf("message %d: %q, want %q", i, got[i], want[i])
				}
				for j := range want[i] {
					if !bytes.Equal(got[i][j], want[i][j]) {
						t.Fatalf("message %d frame %d: %q, want %q", i, j, got[i][j], want[i][j])
					}
				}
				if len(got[i]) > maxFrames {
					t.Fatalf("message %d has %d frames; limit %d", i, len(got[i]), maxFrames)
				}
			}
			var me *transport.MessageTooLargeError
			if isLimit := errors.As(err, &me) && errors.Is(err, transport.ErrMessageTooLarge); isLimit != atLimit {
				t.Fatalf("err = %v; the reference stopped at a limit: %v", err, atLimit)
			}
		})
	})
}

// limitedMessages is referenceMessages with the limits applied as
// transport documents them: a message stops the stream as soon as it is to
// have more than maxFrames frames or more than maxBytes payload bytes
// (checked on each frame header against what is left, at least 64 bytes,
// and again once the frame is read), and a command frame may not exceed
// max(maxBytes, 64) either. atLimit reports a stop at a limit.
func limitedMessages(b []byte, maxFrames int, maxBytes int64) (msgs [][][]byte, atLimit bool) {
	var cur [][]byte
	var total uint64
	for len(b) >= 2 {
		flags := b[0]
		more, long, cmd := flags&1 != 0, flags&2 != 0, flags&4 != 0
		if more && cmd {
			return msgs, false
		}
		var size uint64
		hdr := 2
		if long {
			if len(b) < 9 {
				return msgs, false
			}
			size, hdr = uint64(b[1])<<56|uint64(b[2])<<48|uint64(b[3])<<40|uint64(b[4])<<32|
				uint64(b[5])<<24|uint64(b[6])<<16|uint64(b[7])<<8|uint64(b[8]), 9
			if size>>63 != 0 {
				return msgs, false
			}
		} else {
			size = uint64(b[1])
		}
		if maxBytes > 0 {
			left := uint64(64)
			if uint64(maxBytes)-total > left {
				left = uint64(maxBytes) - total
			}
			if size > left {
				return msgs, true
			}
		}
		if uint64(len(b)-hdr) < size {
			return msgs, false
		}
		body := b[hdr : hdr+int(size)]
		b = b[hdr+int(size):]
		if cmd {
			if len(cur) > 0 {
				return msgs, false
			}
			var sub []byte
			switch {
			case len(body) >= 10 && string(body[:10]) == "\x09SUBSCRIBE":
				sub = append([]byte{1}, body[10:]...)
			case len(body) >= 7 && string(body[:7]) == "\x06CANCEL":
				sub = append([]byte{0}, body[7:]...)
			default:
				continue
			}
			if maxBytes > 0 && int64(len(sub)) > maxBytes {
				return msgs, true
			}
			msgs = append(msgs, [][]byte{sub})
			continue
		}
		cur = append(cur, bytes.Clone(body))
		total += size
		if maxBytes > 0 && total > uint64(maxBytes) {
			return msgs, true
		}
		if more && len(cur) >= maxFrames {
			return msgs, true
		}
		if !more {
			msgs = append(msgs, cur)
			cur, total = nil, 0
		}
	}
	return msgs, false
}
