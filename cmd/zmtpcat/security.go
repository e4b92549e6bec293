package main

import (
	"fmt"
	"os"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
)

// config builds the transport configuration the flags ask for.
func config(o *options) (*transport.Config, error) {
	cfg := &transport.Config{
		SocketType:       o.socketType,
		Identity:         []byte(o.identity),
		ZAPDomain:        o.domain,
		HandshakeTimeout: time.Duration(o.timeout) * time.Millisecond,
	}
	var auth *zap.Authenticator
	authenticator := func() *zap.Authenticator {
		if auth == nil {
			auth = zap.NewAuthenticator()
			cfg.ZAPHandler = auth
		}
		return auth
	}
	switch o.mechanism {
	case "plain":
		if o.plainServer {
			cfg.Mechanism = mechanism.PlainServer()
			a := authenticator()
			if o.passwords != "" {
				if err := a.ConfigurePlainFile("*", o.passwords); err != nil {
					return nil, err
				}
			}
		} else {
			m, err := mechanism.PlainClient(o.plainUser, o.plainPassword)
			if err != nil {
				return nil, err
			}
			cfg.Mechanism = m
		}
	case "curve":
		own, err := ownKeys(o.certFile)
		if err != nil {
			return nil, err
		}
		if o.curveServer {
			if cfg.Mechanism, err = mechanism.CurveServer(own); err != nil {
				return nil, err
			}
			switch {
			case o.allowAny:
				err = authenticator().ConfigureCurve("*", zap.CurveAllowAny)
			case o.clientCerts != "":
				err = authenticator().ConfigureCurve("*", o.clientCerts)
			}
			if err != nil {
				return nil, err
			}
		} else {
			server, err := serverKey(o.serverKey)
			if err != nil {
				return nil, err
			}
			if cfg.Mechanism, err = mechanism.CurveClient(server, own); err != nil {
				return nil, err
			}
		}
	}
	// Address lists: for PLAIN and CURVE servers, and for NULL when a domain
	// is set (NULL asks ZAP only then, as libzmq).
	if len(o.allow) > 0 || len(o.deny) > 0 {
		if o.mechanism == "null" && o.domain == "" {
			return nil, fmt.Errorf("%w: -allow and -deny with NULL need -domain (NULL asks ZAP only when a domain is set)", errUsage)
		}
		a := authenticator()
		var err error
		if len(o.allow) > 0 {
			err = a.Allow(o.allow...)
		} else {
			err = a.Deny(o.deny...)
		}
		if err != nil {
			return nil, err
		}
	}
	if o.mechanism == "null" && o.domain != "" {
		authenticator()
	}
	return cfg, nil
}

// ownKeys reads our key pair from a secret certificate file; with no file
// a CURVE client uses a fresh key pair.
func ownKeys(path string) (cert.KeyPair, error) {
	if path == "" {
		return cert.GenerateKeyPair(nil)
	}
	c, err := cert.LoadCertificate(path)
	if err != nil {
		return cert.KeyPair{}, err
	}
	if c.Secret == nil {
		return cert.KeyPair{}, fmt.Errorf("%s holds no secret key: -cert wants the secret certificate", c.Path)
	}
	return cert.KeyPair{Public: c.Public, Secret: *c.Secret}, nil
}

// serverKey reads -server-key: an existing file is a public certificate,
// anything else must be 40 Z85 characters.
func serverKey(arg string) (cert.PublicKey, error) {
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		c, err := cert.LoadCertificate(arg)
		if err != nil {
			return cert.PublicKey{}, err
		}
		return c.Public, nil
	}
	k, err := cert.ParsePublicKey(arg)
	if err != nil {
		return cert.PublicKey{}, fmt.Errorf("-server-key: not a certificate file, and %w", err)
	}
	return k, nil
}
