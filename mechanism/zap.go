package mechanism

import (
	"context"
	"errors"

	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// libzmqRequestID is the request id libzmq puts in every ZAP request.
const libzmqRequestID = "1"

// errNoHandler is the cause of the refusal AskZAP returns when it is called
// without a handler.
var errNoHandler = errors.New("no ZAP handler to ask")

// AskZAP asks the ZAP handler in p about a peer that authenticated with the
// mechanism mech, presenting creds, exactly as NULL, PLAIN and CURVE ask
// it, which is how libzmq fills a request: version "1.0", request id "1",
// p.Domain, p.PeerAddress, our own routing id p.Identity as the identity
// frame, mech, and the credentials (GSSAPI: one frame, the client's
// principal as "user@REALM"). The reply is checked as [zap.Ask] checks it.
//
// It returns the reply when the status is 200, and otherwise an
// [*AuthError] carrying the status (a handler that failed is a 500, its
// failure wrapped). It sends nothing: a mechanism that has an ERROR
// command sends [zmtp.ErrorCommand] with the status for 400 and 500, and
// nothing for 300, as libzmq does; GSSAPI has no ERROR, and closes.
//
// The handler gets its own copies of creds and of p.Identity, which it
// may keep. With no handler (p.ZAP nil) AskZAP refuses with status 500:
// whether to ask at all is the mechanism's decision, which it makes
// before (CURVE and GSSAPI ask whenever a handler is set).
func AskZAP(ctx context.Context, mech string, p *Params, creds [][]byte) (*zap.Reply, error) {
	if p.ZAP == nil {
		return nil, &AuthError{Mechanism: mech, Status: zap.StatusInternalError, Err: errNoHandler}
	}
	// The handler gets its own copies: the credentials alias the frame
	// buffer, and a handler cut off by the deadline may still be running.
	// They, the request id and the identity are copied into one array, and
	// the request holds the slices of up to two credentials itself: two
	// allocations in all. An empty credential or identity is nil, as a
	// copy of nothing always was.
	zr := new(zapRequest)
	size := len(libzmqRequestID) + len(p.Identity)
	for _, c := range creds {
		size += len(c)
	}
	store := make([]byte, 0, size)
	copyOf := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		start := len(store)
		store = append(store, b...)
		return store[start:len(store):len(store)]
	}
	own := zr.creds[:len(creds):len(creds)]
	if len(creds) > len(zr.creds) {
		own = make([][]byte, len(creds))
	}
	for i, c := range creds {
		own[i] = copyOf(c)
	}
	req := &zr.req
	*req = zap.Request{
		Version:     zap.Version,
		RequestID:   copyOf([]byte(libzmqRequestID)),
		Domain:      p.Domain,
		Address:     p.PeerAddress,
		Identity:    copyOf(p.Identity),
		Mechanism:   mech,
		Credentials: own,
	}
	rep, zerr := zap.Ask(ctx, p.ZAP, req)
	// A PLAIN password is a secret: once the handler has returned, its
	// copy is zeroed. A handler cut off by ctx may still be reading it, so
	// then the copy is left to it (and to the garbage collector).
	if mech == PlainName && len(own) == 2 && ctx.Err() == nil {
		clear(own[1])
	}
	if rep.StatusCode == zap.StatusOK {
		return rep, nil
	}
	return nil, &AuthError{Mechanism: mech, Status: rep.StatusCode, Text: rep.StatusText, Err: zerr}
}

// authenticate is [AskZAP] for the mechanisms of this package, which have
// an ERROR command: with a refusal it returns the commands to send, ERROR
// "400"/"500" for 400/500 and nothing for 300, as libzmq does.
//
// A PLAIN password's copy is zeroed once the handler has returned, so a
// handler must not keep Request.Credentials after it returns.
func authenticate(ctx context.Context, mech string, p *Params, creds [][]byte) (*zap.Reply, []zmtp.Command, error) {
	rep, err := AskZAP(ctx, mech, p, creds)
	if err == nil {
		return rep, nil, nil
	}
	if ae, ok := err.(*AuthError); ok && ae.Status != zap.StatusTemporaryFailure {
		return nil, []zmtp.Command{zmtp.ErrorCommand(ae.Status.String())}, err
	}
	return nil, nil, err
}

// zapRequest is a ZAP request with room for the credentials of every
// mechanism (PLAIN has two).
type zapRequest struct {
	req   zap.Request
	creds [2][]byte
}

// peerError parses an ERROR command's data into a *PeerError.
func peerError(mech string, data []byte) error {
	reason, err := zmtp.ParseErrorReason(data)
	if err != nil {
		return err
	}
	return &PeerError{Mechanism: mech, Reason: reason}
}

// ParsePeerMetadata parses data, the metadata of the peer's READY or
// INITIATE (the command's data, after its name), as NULL, PLAIN and CURVE
// do: at most p.MaxPeerProperties properties, counted before anything is
// allocated, then p.CheckPeerMetadata (the transport's socket-type check).
// Either failure is a [*MetadataError] naming mech. The metadata returned
// aliases data.
func ParsePeerMetadata(mech string, p *Params, data []byte) (zmtp.Metadata, error) {
	md, err := zmtp.ParseMetadataLimit(data, p.MaxPeerProperties)
	if err != nil {
		return nil, &MetadataError{Mechanism: mech, Err: err}
	}
	if p.CheckPeerMetadata != nil {
		if err := p.CheckPeerMetadata(md); err != nil {
			return nil, &MetadataError{Mechanism: mech, Err: err}
		}
	}
	return md, nil
}
