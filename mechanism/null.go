package mechanism

import (
	"context"

	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// NullName is the NULL mechanism's name in the greeting.
const NullName = "NULL"

// Null returns the NULL mechanism (23/ZMTP, "The NULL Security Mechanism"):
// each side sends READY with its metadata and waits for the peer's. It is
// symmetric, so the same value serves clients and servers.
//
// A side with a ZAP handler and a non-empty domain asks ZAP before it sends
// READY, as libzmq does; on 400 or 500 it sends ERROR instead, on 300 it
// sends nothing.
func Null() Mechanism { return nullMechanism{} }

type nullMechanism struct{}

func (nullMechanism) Name() string   { return NullName }
func (nullMechanism) AsServer() bool { return false }

func (nullMechanism) NewHandshake(p Params) (Handshake, error) {
	if err := p.Metadata.Validate(); err != nil {
		return nil, err
	}
	return &nullHandshake{p: p}, nil
}

type nullHandshake struct {
	p         Params
	sentReady bool
	gotReady  bool
	peer      zmtp.Metadata
	zap       *zap.Reply
	err       error
}

func (h *nullHandshake) fail(err error) error {
	h.err = err
	return err
}

func (h *nullHandshake) Start(ctx context.Context) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.sentReady {
		return nil, h.fail(ErrAlreadyStarted)
	}
	if h.p.ZAP != nil && h.p.Domain != "" {
		rep, out, err := authenticate(ctx, NullName, &h.p, nil)
		if err != nil {
			return out, h.fail(err)
		}
		h.zap = rep
	}
	h.sentReady = true
	return []zmtp.Command{zmtp.ReadyCommand(h.p.Metadata)}, nil
}

func (h *nullHandshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if !h.sentReady {
		return nil, h.fail(ErrNotStarted)
	}
	if h.gotReady {
		return nil, h.fail(&UnexpectedCommandError{Mechanism: NullName, Got: cmd.Name})
	}
	switch cmd.Name {
	case zmtp.CmdReady:
		md, err := ParsePeerMetadata(NullName, &h.p, cmd.Data)
		if err != nil {
			return nil, h.fail(err)
		}
		h.peer = md
		h.gotReady = true
		return nil, nil
	case zmtp.CmdError:
		return nil, h.fail(peerError(NullName, cmd.Data))
	}
	return nil, h.fail(&UnexpectedCommandError{Mechanism: NullName, Want: []string{zmtp.CmdReady, zmtp.CmdError}, Got: cmd.Name})
}

func (h *nullHandshake) Done() bool { return h.err == nil && h.sentReady && h.gotReady }

func (h *nullHandshake) Session() Session {
	return Session{PeerMetadata: h.peer, ZAP: h.zap}
}

// Close ends the handshake; it holds no secrets of its own.
func (h *nullHandshake) Close() {
	if h.err == nil && !h.Done() {
		h.err = ErrClosed
	}
}
