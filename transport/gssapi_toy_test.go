package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// toyGSS is a test-only mechanism with the shape libzmq's GSSAPI has on the
// wire (docs/wire-format.md#gssapi), written against the public mechanism
// API only, as the real one is in its own module. It is not security: its
// "Kerberos" tokens are text, and its "wrap" XORs the plaintext with a key
// byte and appends a checksum. What it exercises is the transport's
// plumbing:
//
//   - the greeting's as-server bit is 0 on both sides ([mechanism.Greeter]);
//   - there is no HELLO: the client's first command is INITIATE, with a
//     4-byte length and a token, and so is the server's answer;
//   - the client then sends the empty command (04 00), which the server
//     takes only at that point ([mechanism.EmptyCommandAccepter]), asks ZAP
//     (one credential, the principal; no ERROR on refusal) and sends its
//     READY sealed in a MESSAGE command frame; the client answers with its
//     own sealed READY;
//   - the Sealer and Opener that sealed and opened the READYs, sequence
//     numbers and all, are the Session's: the transport continues with
//     them, and a strict Opener fails on any other sequence number;
//   - the overhead per frame is the instance's: 29 bytes plus the trailer
//     (73 and 85 with trailers of 44 and 56, as aes-sha1 and aes-sha384).
type toyGSS struct {
	server    bool
	principal string // client: our principal, sent in the AP-REQ
	service   string // the service principal the client asks for, and the server is
	trailer   int    // checksum bytes per wrap token
	key       byte   // the "session key" both sides derive (a fixed byte)

	// Ways to misbehave, for the tests of the transport's checks.
	onlySealer bool // the Session has a Sealer and no Opener
	sizeSkew   int  // SealedSize is off by this much
}

// toyClientSeq and toyServerSeq are the initial sequence numbers of the
// two directions, those of the session recorded in docs (any would do).
const (
	toyClientSeq uint64 = 541262417
	toyServerSeq uint64 = 284395960
)

// toyFixed is a toy MESSAGE body's overhead without the trailer:
// 07 "MESSAGE" (8), the token length (4), the token header (16), the flags
// byte (1).
const toyFixed = 8 + 4 + 16 + 1

func toyClient(principal, service string, trailer int) *toyGSS {
	return &toyGSS{principal: principal, service: service, trailer: trailer, key: 0x5a}
}

func toyServer(service string, trailer int) *toyGSS {
	return &toyGSS{server: true, service: service, trailer: trailer, key: 0x5a}
}

func (m *toyGSS) Name() string           { return mechanism.GSSAPIName }
func (m *toyGSS) AsServer() bool         { return m.server }
func (m *toyGSS) GreetingAsServer() bool { return false }

func (m *toyGSS) NewHandshake(p mechanism.Params) (mechanism.Handshake, error) {
	if err := p.Metadata.Validate(); err != nil {
		return nil, err
	}
	return &toyHandshake{m: m, p: p}, nil
}

var (
	_ mechanism.Mechanism            = (*toyGSS)(nil)
	_ mechanism.Greeter              = (*toyGSS)(nil)
	_ mechanism.EmptyCommandAccepter = (*toyHandshake)(nil)
)

// toyState is where a toy handshake stands.
type toyState int

const (
	toyNew       toyState = iota
	toyWantAPReq          // server: INITIATE with the AP-REQ
	toyWantAPRep          // client: INITIATE with the AP-REP
	toyWantEmpty          // server: the empty command
	toyWantReady          // both: READY inside MESSAGE
	toyDone
)

type toyHandshake struct {
	m      *toyGSS
	p      mechanism.Params
	state  toyState
	sealer *toySealer
	opener *toyOpener
	peer   zmtp.Metadata
	zap    *zap.Reply
	// principal is the peer's: the client's on the server, the service
	// on the client.
	principal string
	err       error
}

func (h *toyHandshake) fail(err error) ([]zmtp.Command, error) {
	h.err = err
	return nil, err
}

func (h *toyHandshake) unexpected(got zmtp.Command, want string) ([]zmtp.Command, error) {
	name := got.Name
	if got.IsEmpty() {
		name = "(empty command)"
	}
	return h.fail(&mechanism.UnexpectedCommandError{Mechanism: mechanism.GSSAPIName, Want: []string{want}, Got: name})
}

// AcceptsEmptyCommand is true only where libzmq's client sends it: on the
// server, after its AP-REP.
func (h *toyHandshake) AcceptsEmptyCommand() bool {
	return h.err == nil && h.m.server && h.state == toyWantEmpty
}

func (h *toyHandshake) Start(ctx context.Context) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state != toyNew {
		return h.fail(mechanism.ErrAlreadyStarted)
	}
	if h.m.server {
		h.state = toyWantAPReq
		return nil, nil
	}
	h.state = toyWantAPRep
	token := fmt.Sprintf("AP-REQ %s %s %d", h.m.principal, h.m.service, toyClientSeq)
	return []zmtp.Command{toyInitiate(token)}, nil
}

func (h *toyHandshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	switch h.state {
	case toyNew:
		return h.fail(mechanism.ErrNotStarted)
	case toyWantAPReq:
		if !cmd.Is(zmtp.CmdInitiate) {
			return h.unexpected(cmd, zmtp.CmdInitiate)
		}
		f, err := toyParseInitiate(cmd.Data, "AP-REQ", 3)
		if err != nil {
			return h.fail(err)
		}
		if f[1] != h.m.service {
			// A real acceptor cannot decrypt a ticket for another
			// service; libzmq sends nothing and the client stalls.
			return h.fail(fmt.Errorf("toy GSSAPI: ticket for %q, we are %q", f[1], h.m.service))
		}
		seq, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return h.fail(&zmtp.MalformedError{What: "toy AP-REQ", Detail: "sequence number"})
		}
		h.principal = f[0]
		h.sealer = &toySealer{key: h.m.key, dir: toyFromServer, seq: toyServerSeq, trailer: h.m.trailer, skew: h.m.sizeSkew}
		h.opener = &toyOpener{key: h.m.key, dir: toyFromClient, seq: seq, trailer: h.m.trailer}
		h.state = toyWantEmpty
		return []zmtp.Command{toyInitiate(fmt.Sprintf("AP-REP %d", toyServerSeq))}, nil
	case toyWantAPRep:
		if !cmd.Is(zmtp.CmdInitiate) {
			return h.unexpected(cmd, zmtp.CmdInitiate)
		}
		f, err := toyParseInitiate(cmd.Data, "AP-REP", 1)
		if err != nil {
			return h.fail(err)
		}
		seq, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return h.fail(&zmtp.MalformedError{What: "toy AP-REP", Detail: "sequence number"})
		}
		h.principal = h.m.service // mutual authentication: the server proved it
		h.sealer = &toySealer{key: h.m.key, dir: toyFromClient, seq: toyClientSeq, trailer: h.m.trailer, skew: h.m.sizeSkew}
		h.opener = &toyOpener{key: h.m.key, dir: toyFromServer, seq: seq, trailer: h.m.trailer}
		h.state = toyWantReady
		// libzmq's client has no token left to send, and sends the empty
		// command, which the server takes as its cue.
		return []zmtp.Command{{}}, nil
	case toyWantEmpty:
		if !cmd.IsEmpty() {
			return h.unexpected(cmd, "(empty command)")
		}
		if h.p.ZAP != nil {
			rep, err := mechanism.AskZAP(ctx, mechanism.GSSAPIName, &h.p, [][]byte{[]byte(h.principal)})
			if err != nil {
				return h.fail(err) // GSSAPI has no ERROR: nothing is sent
			}
			h.zap = rep
		}
		ready, err := h.sealReady()
		if err != nil {
			return h.fail(err)
		}
		h.state = toyWantReady
		return []zmtp.Command{ready}, nil
	case toyWantReady:
		if !cmd.Is(zmtp.CmdMessage) {
			return h.unexpected(cmd, zmtp.CmdMessage)
		}
		// The command's body, name included, is what the Opener takes.
		flags, plain, err := h.opener.Open(nil, cmd.Append(nil))
		if err != nil {
			return h.fail(err)
		}
		inner, err := zmtp.ParseCommand(plain)
		if err != nil {
			return h.fail(err)
		}
		if flags != 0 || !inner.Is(zmtp.CmdReady) {
			return h.unexpected(inner, zmtp.CmdReady)
		}
		md, err := mechanism.ParsePeerMetadata(mechanism.GSSAPIName, &h.p, inner.Data)
		if err != nil {
			return h.fail(err)
		}
		h.peer = md
		h.state = toyDone
		if h.m.server {
			return nil, nil
		}
		ready, err := h.sealReady()
		if err != nil {
			return h.fail(err)
		}
		return []zmtp.Command{ready}, nil
	}
	return h.fail(&mechanism.UnexpectedCommandError{Mechanism: mechanism.GSSAPIName, Got: cmd.Name})
}

// sealReady returns our READY sealed in a MESSAGE command, inner flags 00.
func (h *toyHandshake) sealReady() (zmtp.Command, error) {
	body, err := h.sealer.Seal(nil, 0, zmtp.AppendReady(nil, h.p.Metadata))
	if err != nil {
		return zmtp.Command{}, err
	}
	cmd, err := zmtp.ParseCommand(body)
	if err != nil {
		return zmtp.Command{}, err
	}
	return cmd, nil
}

func (h *toyHandshake) Done() bool { return h.err == nil && h.state == toyDone }

func (h *toyHandshake) Session() mechanism.Session {
	s := mechanism.Session{PeerMetadata: h.peer, ZAP: h.zap, PeerPrincipal: h.principal, Sealer: h.sealer, Opener: h.opener}
	if h.m.onlySealer {
		s.Opener = nil
	}
	return s
}

func (h *toyHandshake) Close() {
	if h.Done() {
		return // the Session has the keys now
	}
	if h.err == nil {
		h.err = mechanism.ErrClosed
	}
	if h.sealer != nil {
		h.sealer.Close()
		h.opener.Close()
	}
}

// toyInitiate is INITIATE carrying token, as libzmq frames GSSAPI tokens:
// a 4-byte big-endian length, then the token.
func toyInitiate(token string) zmtp.Command {
	data := binary.BigEndian.AppendUint32(nil, uint32(len(token)))
	return zmtp.Command{Name: zmtp.CmdInitiate, Data: append(data, token...)}
}

// toyParseInitiate checks INITIATE's length field and returns the fields
// of a token "KIND f1 f2 ...", which must have n fields.
func toyParseInitiate(data []byte, kind string, n int) ([]string, error) {
	if len(data) < 4 || int(binary.BigEndian.Uint32(data)) != len(data)-4 {
		return nil, &zmtp.MalformedError{What: "INITIATE", Detail: "token length"}
	}
	f := strings.Fields(string(data[4:]))
	if len(f) != n+1 || f[0] != kind {
		return nil, &zmtp.MalformedError{What: "INITIATE", Detail: "not a toy " + kind}
	}
	return f[1:], nil
}

// Direction flags of a toy wrap token, those of RFC 4121's Wrap as libzmq
// sends it: client to server 06 (Sealed|AcceptorSubkey), server to client
// 07 (SentByAcceptor too).
const (
	toyFromClient byte = 0x06
	toyFromServer byte = 0x07
)

var (
	errToyIntegrity = errors.New("toy GSSAPI: checksum does not match")
	errToySequence  = errors.New("toy GSSAPI: unexpected sequence number")
	errToyClosed    = errors.New("toy GSSAPI: key closed")
)

// toySealer builds 07 "MESSAGE" ‖ len(4) ‖ token, where the token is
// 05 04 dir ff 00 00 00 00 seq(8) ‖ (flags ‖ payload) XOR key ‖ trailer.
type toySealer struct {
	key     byte
	dir     byte
	seq     uint64
	trailer int
	skew    int
	closed  bool
}

func (s *toySealer) SealedSize(n int) int { return toyFixed + s.trailer + n + s.skew }

func (s *toySealer) Seal(dst []byte, flags byte, payload []byte) ([]byte, error) {
	if s.closed {
		return dst, errToyClosed
	}
	dst = append(dst, "\x07MESSAGE"...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(16+1+len(payload)+s.trailer))
	tok := len(dst)
	dst = append(dst, 0x05, 0x04, s.dir, 0xff, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, s.seq)
	s.seq++
	dst = append(dst, flags^s.key)
	for _, b := range payload {
		dst = append(dst, b^s.key)
	}
	return appendToyTrailer(dst, dst[tok:], s.key, s.trailer), nil
}

func (s *toySealer) Close() { s.key, s.closed = 0, true }

// appendToyTrailer appends n bytes of checksum over the token so far.
func appendToyTrailer(dst, token []byte, key byte, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte{key})
	h.Write(token)
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h.Sum64())
	for i := 0; i < n; i++ {
		dst = append(dst, sum[i%8])
	}
	return dst
}

type toyOpener struct {
	key     byte
	dir     byte
	seq     uint64 // the next one expected: strict, as our real GSSAPI is
	trailer int
	closed  bool
}

func (o *toyOpener) MaxOverhead() int { return toyFixed + o.trailer }

func (o *toyOpener) Open(dst, body []byte) (byte, []byte, error) {
	if o.closed {
		return 0, dst, errToyClosed
	}
	malformed := func(detail string) (byte, []byte, error) {
		return 0, dst, &zmtp.MalformedError{What: "toy MESSAGE", Detail: detail}
	}
	if len(body) < toyFixed+o.trailer || string(body[:8]) != "\x07MESSAGE" {
		return malformed("short, or not a MESSAGE")
	}
	tok := body[12:]
	if int(binary.BigEndian.Uint32(body[8:12])) != len(tok) {
		return malformed("token length")
	}
	if tok[0] != 0x05 || tok[1] != 0x04 || tok[2] != o.dir || tok[3] != 0xff {
		return malformed("token header")
	}
	end := len(tok) - o.trailer
	if want := appendToyTrailer(nil, tok[:end], o.key, o.trailer); string(want) != string(tok[end:]) {
		return 0, dst, errToyIntegrity
	}
	if binary.BigEndian.Uint64(tok[8:16]) != o.seq {
		return 0, dst, errToySequence
	}
	o.seq++
	flags := tok[16] ^ o.key
	for _, b := range tok[17:end] {
		dst = append(dst, b^o.key)
	}
	return flags & (mechanism.MessageMore | mechanism.MessageCommand), dst, nil
}

func (o *toyOpener) Close() { o.key, o.closed = 0, true }
