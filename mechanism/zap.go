package mechanism

import (
	"context"

	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// libzmqRequestID is the request id libzmq puts in every ZAP request.
const libzmqRequestID = "1"

// authenticate asks the ZAP handler in p, the way libzmq fills a request
// (request id "1", the server's own routing id as identity), and returns the
// reply, or an *AuthError for any status but 200. The commands to send for a
// refusal are returned with it: ERROR "400"/"500" for 400/500, nothing for
// 300, as libzmq does.
//
// The handler gets its own copies of creds; a PLAIN password's copy is
// zeroed once the handler has returned, so a handler must not keep
// Request.Credentials after it returns.
func authenticate(ctx context.Context, mech string, p *Params, creds [][]byte) (*zap.Reply, []zmtp.Command, error) {
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
		return rep, nil, nil
	}
	err := &AuthError{Mechanism: mech, Status: rep.StatusCode, Text: rep.StatusText, Err: zerr}
	if rep.StatusCode == zap.StatusTemporaryFailure {
		return nil, nil, err
	}
	return nil, []zmtp.Command{zmtp.ErrorCommand(rep.StatusCode.String())}, err
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

// parsePeerMetadata parses the peer's metadata and runs the check in p.
func parsePeerMetadata(mech string, p *Params, data []byte) (zmtp.Metadata, error) {
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
