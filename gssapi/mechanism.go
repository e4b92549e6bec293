// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
	"github.com/zmtpsec/zmtpsec/mechanism"
)

// Name is the mechanism's name in the ZMTP greeting.
const Name = mechanism.GSSAPIName

// DefaultMaxToken bounds a context token (INITIATE) and a Wrap token
// during the handshake when the configuration leaves MaxToken at zero.
const DefaultMaxToken = 64 << 10

// ErrConfig reports a ClientConfig or ServerConfig that cannot be used.
var ErrConfig = errors.New("gssapi: invalid configuration")

// ClientConfig configures a GSSAPI client (the Kerberos initiator).
type ClientConfig struct {
	// Service names the service: "service@host" (HostBasedService,
	// libzmq's default), or a principal with ServiceNameType
	// KerberosPrincipal or UserName.
	Service         string
	ServiceNameType NameType
	// Tickets gets service tickets ([NewKeytabTicketSource],
	// [NewPasswordTicketSource], [NewCCacheTicketSource], or any
	// [TicketSource]). Required.
	Tickets TicketSource
	// Config resolves Service's realm; nil means LoadKrb5Config("").
	Config *Krb5Config
	// InsecurePlaintext is libzmq's ZMQ_GSSAPI_PLAINTEXT: after Kerberos
	// authentication nothing protects the messages, not even their
	// integrity. Both sides must agree.
	InsecurePlaintext bool
	// MaxToken bounds the server's context token and the Wrap token of
	// its READY; zero means DefaultMaxToken.
	MaxToken int
	// Now is the clock of the authenticator; nil means time.Now.
	Now func() time.Time
	// Rand is the source of the subkey and sequence number; nil means
	// the handshake's Params.Rand, else crypto/rand.
	Rand io.Reader
}

// ServerConfig configures a GSSAPI server (the Kerberos acceptor).
type ServerConfig struct {
	// Credentials are the service's keytab and optional principal.
	// Required.
	Credentials *ServerCredentials
	// InsecurePlaintext is libzmq's ZMQ_GSSAPI_PLAINTEXT: after Kerberos
	// authentication nothing protects the messages. Both sides must
	// agree.
	InsecurePlaintext bool
	// MaxSkew is the clock skew allowed; zero means 5 minutes.
	MaxSkew time.Duration
	// MaxToken bounds the client's context token and the Wrap token of
	// its READY; zero means DefaultMaxToken.
	MaxToken int
	// ReplayCacheSize bounds the live entries of the server's replay
	// cache, shared by all its connections; zero means the default
	// (about 65,000 entries).
	ReplayCacheSize int
	// Now is the acceptor's clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of the acceptor subkey and sequence number; nil
	// means the handshake's Params.Rand, else crypto/rand.
	Rand io.Reader
}

// clientMech is the client Mechanism: immutable once built.
type clientMech struct {
	service   Principal
	tickets   TicketSource
	plaintext bool
	maxToken  int
	now       func() time.Time
	rand      io.Reader
}

// serverMech is the server Mechanism. Its replay cache is shared by
// every connection it serves.
type serverMech struct {
	creds     *ServerCredentials
	plaintext bool
	maxSkew   time.Duration
	maxToken  int
	now       func() time.Time
	rand      io.Reader
	replay    *gss.ReplayCache
	acceptor  *gss.Acceptor
}

// Client returns the client side of the GSSAPI mechanism, as libzmq 4.3.4
// speaks it (docs/wire-format.md#gssapi): it gets a service ticket from
// cfg.Tickets, sends the AP-REQ in INITIATE, checks the server's AP-REP
// (mutual authentication), sends the empty command, and exchanges READY,
// sealed in MESSAGE unless cfg.InsecurePlaintext.
func Client(cfg ClientConfig) (mechanism.Mechanism, error) {
	if cfg.Tickets == nil {
		return nil, fmt.Errorf("%w: ClientConfig.Tickets is required", ErrConfig)
	}
	if cfg.Service == "" {
		return nil, fmt.Errorf("%w: ClientConfig.Service is required", ErrConfig)
	}
	if cfg.MaxToken < 0 {
		return nil, fmt.Errorf("%w: negative MaxToken", ErrConfig)
	}
	conf := cfg.Config
	if conf == nil {
		c, err := LoadKrb5Config("")
		if err != nil {
			return nil, err
		}
		conf = c
	}
	svc, err := conf.ParseName(cfg.Service, cfg.ServiceNameType)
	if err != nil {
		return nil, err
	}
	m := &clientMech{
		service:   svc,
		tickets:   cfg.Tickets,
		plaintext: cfg.InsecurePlaintext,
		maxToken:  cfg.MaxToken,
		now:       cfg.Now,
		rand:      cfg.Rand,
	}
	if m.maxToken == 0 {
		m.maxToken = DefaultMaxToken
	}
	return m, nil
}

// Server returns the server side of the GSSAPI mechanism, as libzmq 4.3.4
// speaks it, stricter where libzmq has a hole: a ZAP refusal fails the
// handshake, and only the empty command is taken where libzmq takes any.
// Its replay cache is shared by every connection of the returned
// Mechanism.
func Server(cfg ServerConfig) (mechanism.Mechanism, error) {
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("%w: ServerConfig.Credentials is required", ErrConfig)
	}
	if cfg.MaxToken < 0 || cfg.MaxSkew < 0 || cfg.ReplayCacheSize < 0 {
		return nil, fmt.Errorf("%w: negative MaxToken, MaxSkew or ReplayCacheSize", ErrConfig)
	}
	m := &serverMech{
		creds:     cfg.Credentials,
		plaintext: cfg.InsecurePlaintext,
		maxSkew:   cfg.MaxSkew,
		maxToken:  cfg.MaxToken,
		now:       cfg.Now,
		rand:      cfg.Rand,
		replay:    gss.NewReplayCache(cfg.ReplayCacheSize),
	}
	if m.maxToken == 0 {
		m.maxToken = DefaultMaxToken
	}
	acc, err := gss.NewAcceptor(m.acceptorConfig(m.rand))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	m.acceptor = acc
	return m, nil
}

// Name returns "GSSAPI".
func (m *clientMech) Name() string { return Name }

// AsServer reports false: the client is the Kerberos initiator.
func (m *clientMech) AsServer() bool { return false }

// GreetingAsServer reports false: libzmq sends as-server 0 on both sides.
func (m *clientMech) GreetingAsServer() bool { return false }

// Name returns "GSSAPI".
func (m *serverMech) Name() string { return Name }

// AsServer reports true: the server is the Kerberos acceptor.
func (m *serverMech) AsServer() bool { return true }

// GreetingAsServer reports false: libzmq sends as-server 0 on both sides.
func (m *serverMech) GreetingAsServer() bool { return false }

var (
	_ mechanism.Greeter = (*clientMech)(nil)
	_ mechanism.Greeter = (*serverMech)(nil)
)
