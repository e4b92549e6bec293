// Package zap holds the types of the ZeroMQ Authentication Protocol (ZAP,
// RFC 27) as zmtpsec uses it in-process: a server asks a [Handler] in the
// same process, exactly where libzmq would send a request to its ZAP socket,
// and acts on the [Reply] as libzmq does.
package zap

import (
	"context"
	"fmt"
	"strconv"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Version is the only ZAP version there is.
const Version = "1.0"

// StatusCode is a ZAP reply status. See 27/ZAP, "Reply".
type StatusCode int

// The four status codes of 27/ZAP.
const (
	StatusOK                  StatusCode = 200 // the client is authenticated
	StatusTemporaryFailure    StatusCode = 300 // try again later; no ERROR is sent
	StatusAuthenticationError StatusCode = 400 // the client is refused
	StatusInternalError       StatusCode = 500 // the handler failed
)

// Valid reports whether s is one of the four status codes of 27/ZAP.
func (s StatusCode) Valid() bool {
	switch s {
	case StatusOK, StatusTemporaryFailure, StatusAuthenticationError, StatusInternalError:
		return true
	}
	return false
}

// String returns the three digits of the code.
func (s StatusCode) String() string { return strconv.Itoa(int(s)) }

// Request is a ZAP request. See 27/ZAP, "Request".
type Request struct {
	Version   string // "1.0"
	RequestID []byte // echoed in the reply; libzmq sends "1"
	Domain    string // the server's ZAP domain; may be empty
	// Address is the peer's IP address as text, without a port.
	Address string
	// Identity is, as libzmq sends it, the server socket's own routing id
	// (not the peer's; see libzmq issue #4161).
	Identity    []byte
	Mechanism   string   // "NULL", "PLAIN" or "CURVE"
	Credentials [][]byte // PLAIN: username, password; CURVE: the 32-byte client key
}

// Reply is a ZAP reply. See 27/ZAP, "Reply".
type Reply struct {
	Version    string // "1.0"; empty means "1.0" for in-process handlers
	RequestID  []byte
	StatusCode StatusCode
	StatusText string
	// UserID becomes the connection's User-Id property.
	UserID string
	// Metadata is attached to the connection; it wins over the peer's own
	// properties of the same name, as in libzmq.
	Metadata zmtp.Metadata
}

// Handler decides ZAP requests. Authenticate must return promptly and honour
// ctx: the handshake that asks waits for it. An error or a panic is answered
// as status 500 by the mechanism that asked.
type Handler interface {
	Authenticate(ctx context.Context, req *Request) (*Reply, error)
}

// HandlerFunc adapts a function to the [Handler] interface.
type HandlerFunc func(ctx context.Context, req *Request) (*Reply, error)

// Authenticate calls f(ctx, req).
func (f HandlerFunc) Authenticate(ctx context.Context, req *Request) (*Reply, error) {
	return f(ctx, req)
}

// Error reports a ZAP exchange that failed: the handler returned an error or
// panicked, or its reply was not valid.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("zap: %s: %v", e.Reason, e.Err)
	}
	return "zap: " + e.Reason
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Ask calls h for req and checks the reply. A handler error, a panic, a nil
// reply, a reply with an invalid status code or the wrong version gives a
// reply with status 500 and a non-nil *Error describing what went wrong;
// the caller answers the peer with 500 either way. A handler error that is
// itself an *Error (from a handler that asked another through Ask) is
// returned as it is, so that it reads "zap: handler failed: ..." once.
func Ask(ctx context.Context, h Handler, req *Request) (rep *Reply, err error) {
	var id []byte
	if req != nil {
		id = req.RequestID
	}
	fail := func(reason string, cause error) (*Reply, error) {
		return &Reply{Version: Version, RequestID: id, StatusCode: StatusInternalError}, &Error{Reason: reason, Err: cause}
	}
	defer func() {
		if p := recover(); p != nil {
			rep, err = fail(fmt.Sprintf("handler panicked: %v", p), nil)
		}
	}()
	rep, err = h.Authenticate(ctx, req)
	switch {
	case err != nil:
		if ze, ok := err.(*Error); ok {
			// A handler that asked another through Ask: its error already
			// says what failed, and is not wrapped a second time.
			return &Reply{Version: Version, RequestID: id, StatusCode: StatusInternalError}, ze
		}
		return fail("handler failed", err)
	case rep == nil:
		return fail("handler returned no reply", nil)
	case rep.Version != "" && rep.Version != Version:
		return fail(fmt.Sprintf("reply version %q", rep.Version), nil)
	case !rep.StatusCode.Valid():
		return fail(fmt.Sprintf("reply status code %d", int(rep.StatusCode)), nil)
	case len(rep.StatusText) > maxField || len(rep.UserID) > maxField:
		return fail("reply status text or user id longer than 255 bytes", nil)
	}
	if verr := rep.Metadata.Validate(); verr != nil {
		return fail("reply metadata", verr)
	}
	return rep, nil
}
