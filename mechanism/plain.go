package mechanism

import (
	"context"
	"errors"
	"fmt"

	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// PlainName is the PLAIN mechanism's name in the greeting.
const PlainName = "PLAIN"

// MaxPlainCredential is the longest username or password PLAIN can carry.
const MaxPlainCredential = 255

// ErrNoZAPHandler is returned by a PLAIN server that has no ZAP handler: like
// libzmq, it refuses every client (and closes without sending ERROR).
var ErrNoZAPHandler = errors.New("mechanism: PLAIN server has no ZAP handler; every client is refused")

// PlainClient returns the client side of PLAIN (24/ZMTP-PLAIN) with the
// given credentials, each at most 255 bytes. The password is sent in clear
// text: use PLAIN only on a trusted network or inside another secure channel.
func PlainClient(username, password string) (Mechanism, error) {
	if len(username) > MaxPlainCredential || len(password) > MaxPlainCredential {
		return nil, fmt.Errorf("mechanism: PLAIN username and password are at most %d bytes", MaxPlainCredential)
	}
	return &plainClient{username: username, password: password}, nil
}

// PlainServer returns the server side of PLAIN. It asks the ZAP handler of
// its Params for every HELLO, with the credentials [username, password], and
// acts on the reply as libzmq does: 200 continues with WELCOME, 400 and 500
// send ERROR "400"/"500", 300 closes without ERROR. With no handler every
// client is refused ([ErrNoZAPHandler]).
//
// The ERROR goes out in libzmq's form, 5E "RROR" (see
// [zmtp.Command.LibzmqPlainForm]), so that libzmq, pyzmq and CZMQ clients
// report an authentication failure with the ZAP status, as they do from a
// libzmq server; [PlainRFCError] sends the 23/ZMTP form instead. Our PLAIN
// client reads both.
func PlainServer(opts ...PlainServerOption) Mechanism {
	var s plainServer
	for _, o := range opts {
		o(&s)
	}
	return s
}

// A PlainServerOption changes how [PlainServer] behaves.
type PlainServerOption func(*plainServer)

// PlainRFCError makes a PLAIN server send its ERROR command as 23/ZMTP
// spells it, 05 "ERROR". A libzmq client (every release to date) then
// reports a protocol error (unexpected command) instead of an
// authentication failure, so use it only with peers that need it.
func PlainRFCError() PlainServerOption { return func(s *plainServer) { s.rfcError = true } }

type plainClient struct {
	username, password string
}

func (*plainClient) Name() string   { return PlainName }
func (*plainClient) AsServer() bool { return false }

// String does not print the password.
func (m *plainClient) String() string { return fmt.Sprintf("PLAIN client (username %q)", m.username) }

func (m *plainClient) NewHandshake(p Params) (Handshake, error) {
	if err := p.Metadata.Validate(); err != nil {
		return nil, err
	}
	return &plainClientHandshake{m: m, p: p}, nil
}

type plainServer struct {
	rfcError bool // send 05 "ERROR", not libzmq's 5E "RROR"
}

func (plainServer) Name() string   { return PlainName }
func (plainServer) AsServer() bool { return true }

func (m plainServer) NewHandshake(p Params) (Handshake, error) {
	if err := p.Metadata.Validate(); err != nil {
		return nil, err
	}
	return &plainServerHandshake{p: p, libzmqError: !m.rfcError}, nil
}

// The client's states. See 24/ZMTP-PLAIN:
//
//	C: HELLO      ->  S: WELCOME | ERROR
//	C: INITIATE   ->  S: READY   | ERROR
type plainClientState int

const (
	plainClientStart plainClientState = iota
	plainClientWaitWelcome
	plainClientWaitReady
	plainClientDone
)

type plainClientHandshake struct {
	m         *plainClient
	p         Params
	state     plainClientState
	peer      zmtp.Metadata
	err       error
	helloData []byte // the HELLO data, which holds the password; zeroed by Close
}

func (h *plainClientHandshake) fail(err error) error {
	h.err = err
	return err
}

func (h *plainClientHandshake) Start(context.Context) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state != plainClientStart {
		return nil, h.fail(ErrAlreadyStarted)
	}
	h.state = plainClientWaitWelcome
	return []zmtp.Command{h.hello()}, nil
}

// hello builds HELLO: username and password, each with a 1-byte length.
func (h *plainClientHandshake) hello() zmtp.Command {
	data := make([]byte, 0, 2+len(h.m.username)+len(h.m.password))
	data = append(data, byte(len(h.m.username)))
	data = append(data, h.m.username...)
	data = append(data, byte(len(h.m.password)))
	data = append(data, h.m.password...)
	h.helloData = data
	return zmtp.Command{Name: zmtp.CmdHello, Data: data}
}

func (h *plainClientHandshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.state == plainClientStart {
		return nil, h.fail(ErrNotStarted)
	}
	switch h.state {
	case plainClientWaitWelcome:
		return h.readWelcome(cmd)
	case plainClientWaitReady:
		return nil, h.readReady(cmd)
	}
	return nil, h.fail(&UnexpectedCommandError{Mechanism: PlainName, Got: cmd.Name})
}

func (h *plainClientHandshake) readWelcome(cmd zmtp.Command) ([]zmtp.Command, error) {
	switch cmd.Name {
	case zmtp.CmdWelcome:
		if len(cmd.Data) != 0 {
			return nil, h.fail(&zmtp.MalformedError{What: "PLAIN WELCOME", Detail: fmt.Sprintf("%d bytes of data, want none", len(cmd.Data))})
		}
		h.state = plainClientWaitReady
		return []zmtp.Command{{Name: zmtp.CmdInitiate, Data: h.p.Metadata.Append(nil)}}, nil
	case zmtp.CmdError:
		return nil, h.fail(peerError(PlainName, cmd.Data))
	}
	return nil, h.fail(&UnexpectedCommandError{Mechanism: PlainName, Want: []string{zmtp.CmdWelcome, zmtp.CmdError}, Got: cmd.Name})
}

func (h *plainClientHandshake) readReady(cmd zmtp.Command) error {
	switch cmd.Name {
	case zmtp.CmdReady:
		md, err := ParsePeerMetadata(PlainName, &h.p, cmd.Data)
		if err != nil {
			return h.fail(err)
		}
		h.peer = md
		h.state = plainClientDone
		return nil
	case zmtp.CmdError:
		return h.fail(peerError(PlainName, cmd.Data))
	}
	return h.fail(&UnexpectedCommandError{Mechanism: PlainName, Want: []string{zmtp.CmdReady, zmtp.CmdError}, Got: cmd.Name})
}

func (h *plainClientHandshake) Done() bool { return h.err == nil && h.state == plainClientDone }

func (h *plainClientHandshake) Session() Session { return Session{PeerMetadata: h.peer} }

// The server's states.
type plainServerState int

const (
	plainServerWaitHello plainServerState = iota
	plainServerWaitInitiate
	plainServerDone
)

type plainServerHandshake struct {
	p           Params
	libzmqError bool // send ERROR in libzmq's form
	state       plainServerState
	started     bool
	peer        zmtp.Metadata
	zap         *zap.Reply
	err         error
}

func (h *plainServerHandshake) fail(err error) error {
	h.err = err
	return err
}

func (h *plainServerHandshake) Start(context.Context) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.started {
		return nil, h.fail(ErrAlreadyStarted)
	}
	h.started = true
	return nil, nil // the server waits for HELLO
}

func (h *plainServerHandshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if h.err != nil {
		return nil, h.err
	}
	if !h.started {
		return nil, h.fail(ErrNotStarted)
	}
	switch h.state {
	case plainServerWaitHello:
		return h.readHello(ctx, cmd)
	case plainServerWaitInitiate:
		return h.readInitiate(cmd)
	}
	return nil, h.fail(&UnexpectedCommandError{Mechanism: PlainName, Got: cmd.Name})
}

// readHello checks HELLO and asks ZAP. Like libzmq, the password length must
// account for exactly the bytes that remain.
func (h *plainServerHandshake) readHello(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	if cmd.Name != zmtp.CmdHello {
		return nil, h.fail(&UnexpectedCommandError{Mechanism: PlainName, Want: []string{zmtp.CmdHello}, Got: cmd.Name})
	}
	user, pass, ok := parsePlainHello(cmd.Data)
	if !ok {
		return nil, h.fail(&zmtp.MalformedError{What: "PLAIN HELLO", Detail: fmt.Sprintf("credential lengths do not match the %d-byte body", len(cmd.Data))})
	}
	if h.p.ZAP == nil {
		return nil, h.fail(ErrNoZAPHandler)
	}
	rep, out, err := authenticate(ctx, PlainName, &h.p, [][]byte{user, pass})
	if err != nil {
		for i := range out {
			out[i].LibzmqPlainForm = h.libzmqError
		}
		return out, h.fail(err)
	}
	h.zap = rep
	h.state = plainServerWaitInitiate
	return []zmtp.Command{{Name: zmtp.CmdWelcome}}, nil
}

func parsePlainHello(data []byte) (user, pass []byte, ok bool) {
	if len(data) < 1 {
		return nil, nil, false
	}
	n := int(data[0])
	if len(data) < 1+n+1 {
		return nil, nil, false
	}
	user = data[1 : 1+n]
	rest := data[1+n:]
	m := int(rest[0])
	if len(rest) != 1+m {
		return nil, nil, false
	}
	return user, rest[1:], true
}

func (h *plainServerHandshake) readInitiate(cmd zmtp.Command) ([]zmtp.Command, error) {
	if cmd.Name != zmtp.CmdInitiate {
		return nil, h.fail(&UnexpectedCommandError{Mechanism: PlainName, Want: []string{zmtp.CmdInitiate}, Got: cmd.Name})
	}
	md, err := ParsePeerMetadata(PlainName, &h.p, cmd.Data)
	if err != nil {
		return nil, h.fail(err)
	}
	h.peer = md
	h.state = plainServerDone
	return []zmtp.Command{zmtp.ReadyCommand(h.p.Metadata)}, nil
}

func (h *plainServerHandshake) Done() bool { return h.err == nil && h.state == plainServerDone }

func (h *plainServerHandshake) Session() Session { return Session{PeerMetadata: h.peer, ZAP: h.zap} }

// Close ends the handshake and zeroes the HELLO data it built, which holds
// the password: the driver must have sent it by then. The password itself
// is a string in the Mechanism, which Go cannot clear.
func (h *plainClientHandshake) Close() {
	if h.err == nil && !h.Done() {
		h.err = ErrClosed
	}
	clear(h.helloData)
	h.helloData = nil
}

// Close ends the handshake; it holds no secrets of its own.
func (h *plainServerHandshake) Close() {
	if h.err == nil && !h.Done() {
		h.err = ErrClosed
	}
}
