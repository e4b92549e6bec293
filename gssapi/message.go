// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// messagePrefix is the start of every MESSAGE body: the command name as a
// ZMTP short string.
const messagePrefix = "\x07MESSAGE"

// messageFixed is what a MESSAGE body adds before the Wrap token: the name
// (8 bytes) and the token length (4).
const messageFixed = len(messagePrefix) + 4

// ErrProtectionMismatch reports a READY sealed in MESSAGE where a plain
// READY was due (InsecurePlaintext on our side only), or the reverse.
var ErrProtectionMismatch = errors.New("gssapi: peer's READY protection differs from ours (InsecurePlaintext on one side only?)")

// ErrClosed reports a Seal or Open after Close.
var ErrClosed = gss.ErrContextClosed

func malformedMsg(what, detail string) error {
	return &zmtp.MalformedError{What: what, Detail: detail}
}

// initiateCommand returns INITIATE carrying token: a 4-byte big-endian
// length, then the token (docs/wire-format.md#gssapi).
func initiateCommand(token []byte) zmtp.Command {
	data := make([]byte, 4, 4+len(token))
	binary.BigEndian.PutUint32(data, uint32(len(token)))
	return zmtp.Command{Name: zmtp.CmdInitiate, Data: append(data, token...)}
}

// parseToken reads the token of an INITIATE's or a MESSAGE's data: a
// 4-byte big-endian length that must equal the rest exactly, and at most
// max bytes (max <= 0: no bound). The token aliases data.
func parseToken(what string, data []byte, max int) ([]byte, error) {
	if len(data) < 4 {
		return nil, malformedMsg(what, "shorter than its token length")
	}
	n := binary.BigEndian.Uint32(data)
	if uint64(n) != uint64(len(data)-4) {
		return nil, malformedMsg(what, fmt.Sprintf("token length %d, %d bytes follow", n, len(data)-4))
	}
	if max > 0 && len(data)-4 > max {
		return nil, fmt.Errorf("%w: %s token of %d bytes, limit %d", ErrTokenTooLarge, what, len(data)-4, max)
	}
	return data[4:], nil
}

// A sealer seals the frames we send as MESSAGE bodies: 07 "MESSAGE", the
// token length, and a sealed Wrap token whose plaintext is the inner flags
// byte then the frame's body. It owns the sending half of the Context.
type sealer struct {
	ctx *gss.Context
}

// SealedSize returns the size of the body Seal appends for an n-byte
// payload: 12 + the Wrap overhead + 1 + n (73 + n bytes with the SHA-1
// enctypes, 77 + n with aes128-sha256, 85 + n with aes256-sha384).
func (s *sealer) SealedSize(n int) int { return messageFixed + s.ctx.Overhead() + 1 + n }

// Seal appends a MESSAGE body carrying flags (masked to MORE and COMMAND)
// and payload to dst.
func (s *sealer) Seal(dst []byte, flags byte, payload []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, messagePrefix...)
	dst = append(dst, 0, 0, 0, 0)
	out, err := s.ctx.WrapFlagged(dst, flags&(mechanism.MessageMore|mechanism.MessageCommand), payload)
	if err != nil {
		return dst[:start], err
	}
	binary.BigEndian.PutUint32(out[start+len(messagePrefix):], uint32(len(out)-start-messageFixed))
	return out, nil
}

// Close zeroes the sending key.
func (s *sealer) Close() { s.ctx.CloseSend() }

// An opener opens the peer's MESSAGE bodies. It owns the receiving half of
// the Context.
type opener struct {
	ctx *gss.Context
}

// MaxOverhead returns SealedSize(0): the body of an n-byte payload is
// exactly n + MaxOverhead bytes.
func (o *opener) MaxOverhead() int { return messageFixed + o.ctx.Overhead() + 1 }

// Open checks the MESSAGE prefix and the token length, unwraps the token
// (sealed, in strict sequence, not empty) and returns the inner flags,
// masked to MORE and COMMAND as libzmq 4.3.4 does, and the payload.
func (o *opener) Open(dst, body []byte) (byte, []byte, error) {
	if len(body) < messageFixed || string(body[:len(messagePrefix)]) != messagePrefix {
		return 0, dst, malformedMsg("GSSAPI MESSAGE", "not a MESSAGE command")
	}
	token, err := parseToken("GSSAPI MESSAGE", body[len(messagePrefix):], 0)
	if err != nil {
		return 0, dst, err
	}
	flags, out, err := o.ctx.UnwrapFlagged(dst, token)
	if err != nil {
		return 0, dst, err
	}
	return flags & (mechanism.MessageMore | mechanism.MessageCommand), out, nil
}

// Close zeroes the receiving key.
func (o *opener) Close() { o.ctx.CloseRecv() }

var (
	_ mechanism.MessageSealer = (*sealer)(nil)
	_ mechanism.MessageOpener = (*opener)(nil)
)
