package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zap"
)

// Outcome is how a handshake ended, in the terms of libzmq's socket
// monitor events (zmq_socket_monitor).
type Outcome uint8

const (
	// OutcomeSucceeded is libzmq's ZMQ_EVENT_HANDSHAKE_SUCCEEDED.
	OutcomeSucceeded Outcome = iota + 1
	// OutcomeFailedNoDetail is libzmq's
	// ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: the handshake ran out of time,
	// the peer went away, or the connection failed.
	OutcomeFailedNoDetail
	// OutcomeFailedProtocol is libzmq's ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
	// the peer broke the protocol (malformed or unexpected command, failed
	// cryptography, incompatible socket type or mechanism).
	OutcomeFailedProtocol
	// OutcomeFailedAuth is libzmq's ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: ZAP
	// answered other than 200 (on a server), the peer sent an ERROR with a
	// ZAP status (on a client), or Config.VerifyConnection refused.
	OutcomeFailedAuth
	// OutcomeRefused is a connection a Listener closed in Accept, before
	// any handshake (banned source, per-address or connection limit).
	// libzmq has no such event; a socket layer may report it as
	// ZMQ_EVENT_ACCEPTED followed by ZMQ_EVENT_DISCONNECTED.
	OutcomeRefused
)

// String returns the outcome's name, as used in log records.
func (o Outcome) String() string {
	switch o {
	case OutcomeSucceeded:
		return "succeeded"
	case OutcomeFailedNoDetail:
		return "failed_no_detail"
	case OutcomeFailedProtocol:
		return "failed_protocol"
	case OutcomeFailedAuth:
		return "failed_auth"
	case OutcomeRefused:
		return "refused"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// HandshakeEvent is the audit record of one authentication decision: a
// handshake that ended, or a connection refused before its handshake. It
// names the peer by address and by what it claimed (public key, username,
// principal),
// and what ZAP made of it, and never carries a password or a secret key.
type HandshakeEvent struct {
	Outcome Outcome
	// Server is true for the accepting side.
	Server bool
	// Step is the step that failed ([StepAdmission] for a refusal); zero
	// on success.
	Step HandshakeStep
	// Mechanism is our security mechanism: "NULL", "PLAIN", "CURVE" or
	// "GSSAPI".
	Mechanism string
	// RemoteAddr is the peer's network address ("ip:port", or the path of
	// an IPC socket).
	RemoteAddr string
	// Username is the PLAIN username the client gave, if ZAP was asked.
	Username string
	// Principal is the peer's GSSAPI principal ("user@REALM"), which is
	// no secret: on a server, the client's once ZAP was asked about it; on
	// either side, the peer's once the handshake succeeded.
	Principal string
	// PublicKey is the peer's long-term CURVE public key in Z85, if known:
	// on a server, once the client's INITIATE was opened; on a client,
	// the server's key once the handshake succeeded.
	PublicKey string
	// ZAPStatus and ZAPText are the ZAP status and status text, if ZAP was
	// asked (ZAPStatus is 0 otherwise). UserID is the User-Id ZAP gave.
	ZAPStatus zap.StatusCode
	ZAPText   string
	UserID    string
	// Duration runs from Accept (or from the start of the handshake on a
	// Conn not made by a Listener) to the end of the handshake.
	Duration time.Duration
	// Err is the handshake's error (as returned by HandshakeContext), or
	// the refusal (ErrAddressBanned, ErrAddressHandshakes, ErrTooManyConns);
	// nil on success.
	Err error
}

// LogValue renders the event as a group of attributes: outcome, role,
// mechanism, address, and those of step, username, principal, public_key,
// zap_status, zap_text, user_id, duration and error that are set.
func (e HandshakeEvent) LogValue() slog.Value {
	role := "client"
	if e.Server {
		role = "server"
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("outcome", e.Outcome.String()),
		slog.String("role", role),
		slog.String("mechanism", e.Mechanism),
		slog.String("address", e.RemoteAddr))
	if e.Step != 0 {
		attrs = append(attrs, slog.String("step", e.Step.String()))
	}
	if e.Username != "" {
		attrs = append(attrs, slog.String("username", e.Username))
	}
	if e.Principal != "" {
		attrs = append(attrs, slog.String("principal", e.Principal))
	}
	if e.PublicKey != "" {
		attrs = append(attrs, slog.String("public_key", e.PublicKey))
	}
	if e.ZAPStatus != 0 {
		attrs = append(attrs, slog.Int("zap_status", int(e.ZAPStatus)))
		if e.ZAPText != "" {
			attrs = append(attrs, slog.String("zap_text", e.ZAPText))
		}
	}
	if e.UserID != "" {
		attrs = append(attrs, slog.String("user_id", e.UserID))
	}
	attrs = append(attrs, slog.Duration("duration", e.Duration))
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// level is the level the event is logged at.
func (e HandshakeEvent) level() slog.Level {
	switch e.Outcome {
	case OutcomeFailedAuth:
		return slog.LevelWarn
	case OutcomeRefused:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// eventWanted reports whether cfg's hook or logger takes ev.
func eventWanted(cfg *Config, ev *HandshakeEvent) bool {
	return cfg.OnHandshake != nil || (cfg.AuditLogger != nil && cfg.AuditLogger.Enabled(context.Background(), ev.level()))
}

// emitEvent hands ev to cfg's hook and logger.
func emitEvent(cfg *Config, ev HandshakeEvent) {
	if cfg.OnHandshake != nil {
		cfg.OnHandshake(ev)
	}
	if l := cfg.AuditLogger; l != nil && l.Enabled(context.Background(), ev.level()) {
		msg := "transport: handshake"
		if ev.Outcome == OutcomeRefused {
			msg = "transport: connection refused"
		}
		l.LogAttrs(context.Background(), ev.level(), msg, slog.Any("handshake", ev))
	}
}

// logBan logs a ban at Warn.
func logBan(cfg *Config, remote string, d time.Duration) {
	if l := cfg.AuditLogger; l != nil {
		l.LogAttrs(context.Background(), slog.LevelWarn, "transport: address banned",
			slog.String("address", remote), slog.Duration("ban", d),
			slog.Int("failures", cfg.BanAfterFailures), slog.Duration("window", cfg.banWindow()))
	}
}

// handshakeAudit is what a Conn's handshake learned for its event. It is
// written by the handshake (the ZAP wrapper runs in the handshake's
// goroutine) and read after it, under handshakeMu.
type handshakeAudit struct {
	start     time.Time
	zapAsked  bool
	zapStatus zap.StatusCode
	zapText   string
	userID    string
	username  string
	principal string
	publicKey cert.PublicKey // the CURVE key ZAP was asked about, if hasKey; rendered only for an event
	hasKey    bool
}

// noteRequest records what the ZAP request says about the peer: the PLAIN
// username (never the password), the CURVE key or the GSSAPI principal.
func (a *handshakeAudit) noteRequest(req *zap.Request) {
	if a == nil || req == nil {
		return
	}
	a.zapAsked = true
	switch {
	case req.Mechanism == "PLAIN" && len(req.Credentials) > 0:
		a.username = string(req.Credentials[0])
	case req.Mechanism == "CURVE" && len(req.Credentials) > 0 && len(req.Credentials[0]) == cert.KeySize:
		a.publicKey, a.hasKey = cert.PublicKey(req.Credentials[0]), true
	case req.Mechanism == "GSSAPI" && len(req.Credentials) > 0:
		a.principal = string(req.Credentials[0])
	}
}

// noteReply records ZAP's answer; a failed exchange is answered 500.
func (a *handshakeAudit) noteReply(rep *zap.Reply, err error) {
	if a == nil {
		return
	}
	switch {
	case err != nil || rep == nil || !rep.StatusCode.Valid():
		a.zapStatus, a.zapText = zap.StatusInternalError, ""
	default:
		a.zapStatus, a.zapText, a.userID = rep.StatusCode, rep.StatusText, rep.UserID
	}
}

// handshakeEvent builds the event of c's handshake, which ended with err,
// but for its two texts, RemoteAddr and PublicKey, which eventTexts adds
// for an event that goes anywhere. The caller holds handshakeMu, and the
// state is written.
func (c *Conn) handshakeEvent(err error) HandshakeEvent {
	a := &c.hooks.audit
	ev := HandshakeEvent{
		Server:    !c.isClient,
		Mechanism: c.cfg.mechanism().Name(),
		Username:  a.username,
		Principal: a.principal,
		UserID:    a.userID,
		Err:       err,
	}
	if !a.start.IsZero() {
		ev.Duration = time.Since(a.start)
	}
	if a.zapAsked {
		ev.ZAPStatus, ev.ZAPText = a.zapStatus, a.zapText
	}
	if err == nil {
		ev.Outcome = OutcomeSucceeded
		ev.UserID = c.state.UserID
		ev.Principal = c.state.PeerPrincipal
		return ev
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		ev.Step = he.Step
	}
	ev.Outcome = classify(err)
	var ae *mechanism.AuthError
	if errors.As(err, &ae) { // the final word, after the reply was checked
		ev.ZAPStatus, ev.ZAPText = ae.Status, ae.Text
	}
	return ev
}

// eventTexts adds to ev, the event of c's handshake, the peer's address
// and public key (the one ZAP was asked about, else on success the peer's
// key). The caller holds handshakeMu.
func (c *Conn) eventTexts(ev *HandshakeEvent) {
	if ra := c.conn.RemoteAddr(); ra != nil {
		ev.RemoteAddr = ra.String()
	}
	switch a := &c.hooks.audit; {
	case a.hasKey:
		ev.PublicKey = a.publicKey.String()
	case ev.Outcome == OutcomeSucceeded && c.state.PeerPublicKey != nil:
		ev.PublicKey = c.state.PeerPublicKey.String()
	}
}

// classify maps a handshake error to an outcome.
func classify(err error) Outcome {
	var ae *mechanism.AuthError
	if errors.As(err, &ae) {
		return OutcomeFailedAuth
	}
	var pe *mechanism.PeerError
	if errors.As(err, &pe) {
		if pe.Status() != 0 {
			return OutcomeFailedAuth
		}
		return OutcomeFailedProtocol
	}
	var he *HandshakeError
	if errors.As(err, &he) && he.Step == StepVerify {
		return OutcomeFailedAuth
	}
	if isNoDetail(err) {
		return OutcomeFailedNoDetail
	}
	return OutcomeFailedProtocol
}

// isNoDetail reports errors that say nothing about the peer's protocol:
// timeouts, a connection that ended or failed, our own configuration.
func isNoDetail(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrConfig) || errors.As(err, &oe) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// countsAsFailure reports whether a failed handshake counts towards a ban:
// not ZAP 300 or 500 (our trouble), nor a failure of our own making.
func countsAsFailure(ev HandshakeEvent) bool {
	switch {
	case ev.Outcome == OutcomeSucceeded || ev.Outcome == OutcomeRefused:
		return false
	case ev.Outcome == OutcomeFailedAuth &&
		(ev.ZAPStatus == zap.StatusTemporaryFailure || ev.ZAPStatus == zap.StatusInternalError):
		return false
	case errors.Is(ev.Err, net.ErrClosed) || errors.Is(ev.Err, context.Canceled) ||
		errors.Is(ev.Err, ErrConfig) || errors.Is(ev.Err, errNotStarted):
		return false
	}
	return true
}
