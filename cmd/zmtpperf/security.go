package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The fixed CURVE test keys, Z85; bench/perf/zmqperf.c has the same, so
// that the two programs agree with no setup. They are published: test keys
// only.
const (
	testServerPublic = "*[W1K*kqse>gLDJOG!O]xTt9EB4-l6/o[.?SUr}#"
	testServerSecret = "}Da$okVFe(Y1jLW56O(L/8uoQ(+q7s<vwDy39ioi"
	testClientPublic = "o>-*E2X-OHNNYWvr}F{6G@[CGm3fwDh//+9IV7!H"
	testClientSecret = "mycm?]wI]<S[X^d]Hl?]jl]sBUv{:y[/.LVS6IVt"
)

// The fixed PLAIN credentials, the same in zmqperf.c.
const (
	plainUser     = "perf"
	plainPassword = "perf"
)

// security is the mechanism of our side, made once per run (a Mechanism
// serves every connection), and the ZAP handler of a PLAIN server.
type security struct {
	mech mechanism.Mechanism
	zap  zap.Handler
}

// newSecurity makes the mechanism of c's side: the server's for the
// binding roles, the client's for the connecting ones.
func newSecurity(c *config) (*security, error) {
	server := roles[c.role].binds
	switch c.mech {
	case "plain":
		if server {
			return &security{mech: mechanism.PlainServer(), zap: zap.HandlerFunc(plainZAP)}, nil
		}
		m, err := mechanism.PlainClient(plainUser, plainPassword)
		return &security{mech: m}, err
	case "curve":
		return newCurve(c, server)
	}
	return &security{mech: mechanism.Null()}, nil
}

func newCurve(c *config, server bool) (*security, error) {
	secretText := testClientSecret
	if server {
		secretText = testServerSecret
	}
	var ours cert.KeyPair
	if c.secretFile != "" {
		kp, err := readSecret(c.secretFile)
		if err != nil {
			return nil, err
		}
		ours = kp
	} else {
		sk, err := cert.ParseSecretKey(secretText)
		if err != nil {
			return nil, err
		}
		pk, err := sk.PublicKey()
		if err != nil {
			return nil, err
		}
		ours = cert.KeyPair{Public: pk, Secret: sk}
	}
	if server {
		m, err := mechanism.CurveServer(ours)
		return &security{mech: m}, err
	}
	serverKey, err := cert.ParsePublicKey(testServerPublic)
	if err != nil {
		return nil, err
	}
	if c.serverKeyFile != "" {
		if serverKey, err = readPublic(c.serverKeyFile); err != nil {
			return nil, err
		}
	}
	m, err := mechanism.CurveClient(serverKey, ours)
	return &security{mech: m}, err
}

// readKeyText returns the content of path if it is a bare Z85 key (40
// characters, surrounding white space ignored), or "" if it is something
// else (a certificate).
func readKeyText(path string) (string, error) {
	b, _, err := cert.ReadFile(path, cert.MaxFileSize)
	if err != nil {
		return "", err
	}
	if b = bytes.TrimSpace(b); len(b) == cert.KeyTextSize {
		return string(b), nil
	}
	return "", nil
}

// readPublic reads -server-key: 40 Z85 characters or a certificate.
func readPublic(path string) (cert.PublicKey, error) {
	text, err := readKeyText(path)
	if err != nil {
		return cert.PublicKey{}, err
	}
	if text != "" {
		k, err := cert.ParsePublicKey(text)
		if err != nil {
			return cert.PublicKey{}, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	crt, err := cert.LoadCertificate(path)
	if err != nil {
		return cert.PublicKey{}, err
	}
	return crt.Public, nil
}

// readSecret reads -secret: 40 Z85 characters or a secret certificate.
func readSecret(path string) (cert.KeyPair, error) {
	text, err := readKeyText(path)
	if err != nil {
		return cert.KeyPair{}, err
	}
	if text != "" {
		sk, err := cert.ParseSecretKey(text)
		if err != nil {
			return cert.KeyPair{}, fmt.Errorf("%s: %w", path, err)
		}
		pk, err := sk.PublicKey()
		if err != nil {
			return cert.KeyPair{}, fmt.Errorf("%s: %w", path, err)
		}
		return cert.KeyPair{Public: pk, Secret: sk}, nil
	}
	crt, err := cert.LoadCertificate(path)
	if err != nil {
		return cert.KeyPair{}, err
	}
	return crt.KeyPair()
}

// plainZAP accepts the fixed PLAIN credentials and nothing else.
func plainZAP(_ context.Context, req *zap.Request) (*zap.Reply, error) {
	if req.Mechanism == mechanism.PlainName && len(req.Credentials) == 2 &&
		string(req.Credentials[0]) == plainUser && string(req.Credentials[1]) == plainPassword {
		return &zap.Reply{StatusCode: zap.StatusOK, StatusText: "OK", UserID: plainUser}, nil
	}
	return &zap.Reply{StatusCode: zap.StatusAuthenticationError, StatusText: "bad credentials"}, nil
}

// transportConfig is the configuration of every connection of socket type t.
func (s *security) transportConfig(t zmtp.SocketType) transport.Config {
	return transport.Config{SocketType: t, Mechanism: s.mech, ZAPHandler: s.zap}
}
