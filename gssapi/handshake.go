// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"context"
	"fmt"
	"io"

	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// emptyName names the empty command in errors.
const emptyName = "(empty command)"

type state int

const (
	stNew       state = iota
	stWantAPReq       // server: the client's INITIATE (AP-REQ)
	stWantAPRep       // client: the server's INITIATE (AP-REP)
	stWantEmpty       // server: the empty command
	stWantReady       // both: the peer's READY
	stDone
)

// handshake is the state of one GSSAPI handshake, client or server.
type handshake struct {
	server bool
	cm     *clientMech
	sm     *serverMech
	p      mechanism.Params
	state  state
	err    error

	ini    *gss.Initiator // client, until the AP-REP is read
	ctx    *gss.Context   // both, once established (nil in plaintext mode once handed over)
	sealer *sealer
	opener *opener
	peer   zmtp.Metadata
	zapRep *zap.Reply
	princ  string // the peer's principal
	maxTok int
	plain  bool
}

var _ mechanism.EmptyCommandAccepter = (*handshake)(nil)

// NewHandshake returns the state of one client handshake.
func (m *clientMech) NewHandshake(p mechanism.Params) (mechanism.Handshake, error) {
	return &handshake{cm: m, p: p, maxTok: m.maxToken, plain: m.plaintext}, nil
}

// NewHandshake returns the state of one server handshake.
func (m *serverMech) NewHandshake(p mechanism.Params) (mechanism.Handshake, error) {
	return &handshake{server: true, sm: m, p: p, maxTok: m.maxToken, plain: m.plaintext}, nil
}

func (h *handshake) fail(err error) ([]zmtp.Command, error) {
	h.err = err
	h.forget()
	return nil, err
}

func (h *handshake) unexpected(got zmtp.Command, want string) ([]zmtp.Command, error) {
	name := got.Name
	if got.IsEmpty() {
		name = emptyName
	}
	e := &mechanism.UnexpectedCommandError{Mechanism: Name, Got: name}
	if want != "" {
		e.Want = []string{want}
	}
	return h.fail(e)
}

// forget zeroes every key the handshake still holds.
func (h *handshake) forget() {
	if h.ini != nil {
		h.ini.Close()
		h.ini = nil
	}
	if h.ctx != nil {
		h.ctx.Close()
	}
}

// AcceptsEmptyCommand reports true only where libzmq's client sends the
// empty command: on the server, right after its AP-REP. libzmq's server
// takes any command there; we take only the empty one.
func (h *handshake) AcceptsEmptyCommand() bool {
	return h.err == nil && h.server && h.state == stWantEmpty
}

// Start gets the service ticket and returns INITIATE with the AP-REQ on a
// client; it returns nothing on a server.
func (h *handshake) Start(ctx context.Context) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state != stNew {
		return h.fail(mechanism.ErrAlreadyStarted)
	}
	if h.server {
		h.state = stWantAPReq
		return nil, nil
	}
	m := h.cm
	st, err := m.tickets.ServiceTicket(ctx, m.service)
	if err != nil {
		return h.fail(fmt.Errorf("gssapi: service ticket for %q: %w", m.service.String(), err))
	}
	if st == nil {
		return h.fail(fmt.Errorf("%w: ticket source returned no ticket", ErrNoCredentials))
	}
	svc := st.Service
	if svc.IsZero() {
		svc = m.service
	}
	h.princ = svc.String()
	ini, tok, err := gss.NewInitiator(gss.InitiatorConfig{
		Client:     st.Client,
		Ticket:     st.Ticket,
		SessionKey: Key{Enctype: st.SessionKey.Enctype, Value: append([]byte(nil), st.SessionKey.Value...)},
		Rand:       pickRand(m.rand, h.p.Rand),
		Now:        m.now,
	})
	if err != nil {
		return h.fail(err)
	}
	h.ini = ini
	h.state = stWantAPRep
	return []zmtp.Command{initiateCommand(tok)}, nil
}

func pickRand(a, b io.Reader) io.Reader {
	if a != nil {
		return a
	}
	return b // nil: crypto/rand in the gss layer
}

// Handle processes the peer's next command.
func (h *handshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	switch h.state {
	case stNew:
		return h.fail(mechanism.ErrNotStarted)
	case stWantAPReq:
		return h.handleAPReq(cmd)
	case stWantAPRep:
		return h.handleAPRep(cmd)
	case stWantEmpty:
		return h.handleEmpty(ctx, cmd)
	case stWantReady:
		return h.handleReady(cmd)
	}
	return h.unexpected(cmd, "")
}

func (h *handshake) handleAPReq(cmd zmtp.Command) ([]zmtp.Command, error) {
	if !cmd.Is(zmtp.CmdInitiate) {
		return h.unexpected(cmd, zmtp.CmdInitiate)
	}
	tok, err := parseToken("GSSAPI INITIATE", cmd.Data, h.maxTok)
	if err != nil {
		return h.fail(err)
	}
	acc := h.sm.acceptor
	if h.sm.rand == nil && h.p.Rand != nil {
		acc = h.sm.acceptorWith(h.p.Rand)
	}
	res, err := acc.Accept(tok)
	if err != nil {
		return h.fail(err)
	}
	h.ctx = res.Context
	h.princ = res.Client.String()
	h.state = stWantEmpty
	return []zmtp.Command{initiateCommand(res.Token)}, nil
}

func (h *handshake) handleAPRep(cmd zmtp.Command) ([]zmtp.Command, error) {
	if !cmd.Is(zmtp.CmdInitiate) {
		return h.unexpected(cmd, zmtp.CmdInitiate)
	}
	tok, err := parseToken("GSSAPI INITIATE", cmd.Data, h.maxTok)
	if err != nil {
		return h.fail(err)
	}
	c, err := h.ini.ReadAPRep(tok)
	h.ini.Close()
	h.ini = nil
	if err != nil {
		return h.fail(err)
	}
	h.ctx = c
	h.state = stWantReady
	// libzmq's client has no token left, and sends the empty command,
	// which its server takes as its cue (docs/wire-format.md#the-empty-command).
	return []zmtp.Command{{}}, nil
}

func (h *handshake) handleEmpty(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if !cmd.IsEmpty() {
		return h.unexpected(cmd, emptyName)
	}
	// libzmq asks ZAP whenever a handler is set, even without a domain.
	// GSSAPI has no ERROR: a refusal sends nothing (libzmq 4.3.4 ignores
	// refusals; we follow master, ba63f037).
	if h.p.ZAP != nil {
		rep, err := mechanism.AskZAP(ctx, Name, &h.p, [][]byte{[]byte(h.princ)})
		if err != nil {
			return h.fail(err)
		}
		h.zapRep = rep
	}
	ready, err := h.ready()
	if err != nil {
		return h.fail(err)
	}
	h.state = stWantReady
	return []zmtp.Command{ready}, nil
}

func (h *handshake) handleReady(cmd zmtp.Command) ([]zmtp.Command, error) {
	var data []byte
	switch {
	case h.plain && cmd.Is(zmtp.CmdReady):
		data = cmd.Data
	case h.plain && cmd.Is(zmtp.CmdMessage), !h.plain && cmd.Is(zmtp.CmdReady):
		return h.fail(ErrProtectionMismatch)
	case !h.plain && cmd.Is(zmtp.CmdMessage):
		if len(cmd.Data) > 4+h.maxTok {
			return h.fail(fmt.Errorf("%w: READY token of %d bytes, limit %d", ErrTokenTooLarge, len(cmd.Data)-4, h.maxTok))
		}
		o := h.openerOf()
		flags, body, err := o.Open(nil, cmd.Append(nil))
		if err != nil {
			return h.fail(err)
		}
		inner, err := zmtp.ParseCommand(body)
		if err != nil {
			return h.fail(err)
		}
		// libzmq sends its READY with inner flags 00; we take nothing else.
		if flags != 0 || !inner.Is(zmtp.CmdReady) {
			name := inner.Name
			if flags != 0 {
				name = fmt.Sprintf("%s (inner flags %#02x)", inner.Name, flags)
			}
			return h.unexpected(zmtp.Command{Name: name}, zmtp.CmdReady)
		}
		data = inner.Data
	default:
		want := zmtp.CmdMessage
		if h.plain {
			want = zmtp.CmdReady
		}
		return h.unexpected(cmd, want)
	}
	md, err := mechanism.ParsePeerMetadata(Name, &h.p, data)
	if err != nil {
		return h.fail(err)
	}
	h.peer = md.Clone()
	var out []zmtp.Command
	if !h.server {
		// The client answers only now: libzmq's server refuses a READY
		// that arrives before it has sent its own.
		ready, err := h.ready()
		if err != nil {
			return h.fail(err)
		}
		out = []zmtp.Command{ready}
	}
	h.state = stDone
	if h.plain {
		// Nothing protects the messages: the keys are of no further use.
		h.ctx.Close()
	}
	return out, nil
}

// ready returns our READY: plain, or sealed in a MESSAGE command with
// inner flags 00.
func (h *handshake) ready() (zmtp.Command, error) {
	if h.plain {
		return zmtp.ReadyCommand(h.p.Metadata), nil
	}
	body, err := h.sealerOf().Seal(nil, 0, zmtp.AppendReady(nil, h.p.Metadata))
	if err != nil {
		return zmtp.Command{}, err
	}
	return zmtp.Command{Name: zmtp.CmdMessage, Data: body[len(messagePrefix):]}, nil
}

func (h *handshake) sealerOf() *sealer {
	if h.sealer == nil {
		h.sealer = &sealer{ctx: h.ctx}
	}
	return h.sealer
}

func (h *handshake) openerOf() *opener {
	if h.opener == nil {
		h.opener = &opener{ctx: h.ctx}
	}
	return h.opener
}

// Done reports whether the handshake has completed.
func (h *handshake) Done() bool { return h.err == nil && h.state == stDone }

// Session returns the peer's metadata and principal, the ZAP reply, and in
// sealed mode the Sealer and Opener, which continue the sequence numbers
// of the READYs.
func (h *handshake) Session() mechanism.Session {
	s := mechanism.Session{PeerMetadata: h.peer, ZAP: h.zapRep, PeerPrincipal: h.princ}
	if h.Done() && !h.plain {
		s.Sealer, s.Opener = h.sealerOf(), h.openerOf()
	}
	return s
}

// Close forgets the keys unless the handshake completed, in which case the
// Session's Sealer and Opener hold them.
func (h *handshake) Close() {
	if h.Done() {
		return
	}
	if h.err == nil {
		h.err = mechanism.ErrClosed
	}
	h.forget()
}

// acceptorWith returns an Acceptor like m's, with another source of
// randomness, sharing m's replay cache.
func (m *serverMech) acceptorWith(r io.Reader) *gss.Acceptor {
	a, err := gss.NewAcceptor(m.acceptorConfig(r))
	if err != nil {
		return m.acceptor // cannot happen: the same config was accepted
	}
	return a
}

func (m *serverMech) acceptorConfig(r io.Reader) gss.AcceptorConfig {
	return gss.AcceptorConfig{
		Keytab:    m.creds.keytab.kt,
		Principal: m.creds.principal,
		MaxSkew:   m.maxSkew,
		Now:       m.now,
		Rand:      r,
		Replay:    m.replay,
	}
}
