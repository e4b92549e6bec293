// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"errors"

	"github.com/zmtpsec/zmtpsec/mechanism"
)

var errTODO = errors.New("gssapi: handshake not implemented yet")

// NewHandshake returns the state of one client handshake.
func (m *clientMech) NewHandshake(p mechanism.Params) (mechanism.Handshake, error) {
	return nil, errTODO
}

// NewHandshake returns the state of one server handshake.
func (m *serverMech) NewHandshake(p mechanism.Params) (mechanism.Handshake, error) {
	return nil, errTODO
}
