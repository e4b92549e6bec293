package zmtpcat

import (
	"errors"
	"io"
	"net"

	"github.com/zmtpsec/zmtpsec/socket"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// eventLoop reports the socket's events until closed is closed, then
// reports those still buffered.
func (a *app) eventLoop(events <-chan socket.Event, closed <-chan struct{}) {
	var dialErr string // the last connect failure reported, until a connection
	for {
		select {
		case e := <-events:
			a.event(e, &dialErr)
		case <-closed:
			for {
				select {
				case e := <-events:
					a.event(e, &dialErr)
				default:
					return
				}
			}
		}
	}
}

// event reports one event on stderr and decides whether it ends the run.
func (a *app) event(e socket.Event, dialErr *string) {
	name := a.peerName(e)
	switch e.Kind {
	case socket.EventHandshakeSucceeded:
		*dialErr = ""
		a.outcome(e, name)

	case socket.EventHandshakeFailed:
		// A server serves on; a client ends, unless -retry lets the
		// socket try again where libzmq would (EventConnectStopped says
		// when it gives up).
		if a.o.bind || a.o.retry {
			a.logf("%s: %v", name, e.Err)
		} else {
			a.fail("%s: %v", name, e.Err)
		}

	case socket.EventConnectStopped:
		var he *transport.HandshakeError
		switch {
		case errors.As(e.Err, &he) && !a.o.retry:
			// EventHandshakeFailed has said why and ended the run.
			a.failed.Store(true)
			a.finish(1)
		case errors.As(e.Err, &he):
			a.fail("%s: not trying again", name) // EventHandshakeFailed has said why
		default:
			a.fail("%s: %v; not trying again", name, e.Err)
		}

	case socket.EventDisconnected:
		switch {
		case errors.Is(e.Err, socket.ErrPeerRefused):
			a.logf("%s: %s; connection closed", name, a.refusal())
		case e.Err == nil || a.ending():
			// We closed it.
		default:
			// When connecting, the socket connects again (or says, with
			// EventConnectStopped, that it will not).
			a.logf("%s: %s", name, disconnectCause(e.Err))
		}

	case socket.EventClosed:
		// A connecting endpoint's attempt failed: nobody listens yet, say.
		// Said once, and again only if the cause changes, for the socket
		// tries again every ReconnectInterval (while lingering too).
		if !a.o.bind && e.Err != nil && e.Err.Error() != *dialErr {
			*dialErr = e.Err.Error()
			a.logf("%s: %v; trying again until the peer is there", name, e.Err)
		}

	case socket.EventAcceptFailed:
		a.logf("%s: accept: %v", name, e.Err)
	}
}

// peerName names the peer of an event: the endpoint when connecting, the
// remote address when serving.
func (a *app) peerName(e socket.Event) string {
	if !a.o.bind || e.RemoteAddr == nil {
		return e.Endpoint
	}
	if s := e.RemoteAddr.String(); s != "" && s != "@" {
		return s
	}
	return "ipc peer" // a Unix socket's peer has no name
}

// outcome prints the result of a handshake: one line per connection.
func (a *app) outcome(e socket.Event, name string) {
	what := "connected to "
	if a.o.bind {
		what = "accepted "
	}
	st := e.State
	routing := ""
	if a.o.socketType == zmtp.ROUTER {
		if len(st.PeerIdentity) > 0 {
			routing = ", routing id " + string(appendFrame(nil, st.PeerIdentity, a.o.hex))
		} else {
			routing = ", routing id generated (the first frame of its messages)"
		}
	}
	a.logf("%s%s: mechanism %s, peer type %s, peer user-id %q, peer address %s%s",
		what, name, st.Mechanism, orNone(string(st.PeerSocketType)), st.UserID, orNone(st.PeerAddress), routing)
}

// refusal says why the socket closed a connection right after its
// handshake (socket.ErrPeerRefused).
func (a *app) refusal() string {
	switch a.o.socketType {
	case zmtp.ROUTER:
		return "its routing id is in use by another peer"
	case zmtp.PAIR:
		return "a PAIR socket has a peer already"
	}
	return socket.ErrPeerRefused.Error()
}

// disconnectCause describes why an established connection ended.
func disconnectCause(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, transport.ErrPeerClosed) || errors.Is(err, net.ErrClosed) {
		return "the peer closed the connection"
	}
	return err.Error()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
