// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"context"
	"testing"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// FuzzOpen feeds arbitrary MESSAGE bodies to an Opener of an established
// session: never a panic; a success only for a body of exactly
// MaxOverhead + payload bytes.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("\x07MESSAGE\x00\x00\x00\x00"))
	f.Add([]byte("\x07MESSAGE\x00\x00\x00\x10\x05\x04\x06\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"))
	fx := newFixture(f, 7)
	f.Fuzz(func(t *testing.T, body []byte) {
		cm, sm := fx.mechs(t, 70, false, false)
		c, s := handshakes(t, cm, sm, mechanism.Params{})
		if cerr, serr := run(t, c, s, nil); cerr != nil || serr != nil {
			t.Fatal(cerr, serr)
		}
		o := s.Session().Opener
		_, out, err := o.Open(nil, body)
		if err == nil && len(body) != o.MaxOverhead()+len(out) {
			t.Fatalf("opened %d bytes from %d", len(out), len(body))
		}
	})
}

// FuzzParseToken: the INITIATE/MESSAGE length codec never panics and
// returns exactly the bytes after the length when it accepts.
func FuzzParseToken(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 9})
	f.Add([]byte{0, 0, 0, 2, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := parseToken("INITIATE", data, 1024)
		if err == nil && (len(tok) != len(data)-4 || len(tok) > 1024) {
			t.Fatalf("token of %d from %d", len(tok), len(data))
		}
	})
}

// FuzzServerHandshake feeds the server arbitrary commands (name and data)
// after a real AP-REQ, and at the start: typed errors, never a panic.
func FuzzServerHandshake(f *testing.F) {
	f.Add(0, "INITIATE", []byte{0, 0, 0, 0})
	f.Add(1, "", []byte{})
	f.Add(2, "MESSAGE", []byte{0, 0, 0, 3, 1, 2, 3})
	f.Add(2, "READY", []byte("\x0bSocket-Type\x00\x00\x00\x03REQ"))
	fx := newFixture(f, 8)
	f.Fuzz(func(t *testing.T, step int, name string, data []byte) {
		if !zmtp.ValidCommandName(name) && name != "" {
			return
		}
		cm, sm := fx.mechs(t, 80, false, false)
		c, s := handshakes(t, cm, sm, mechanism.Params{})
		defer c.Close()
		defer s.Close()
		ctx := context.Background()
		s.Start(ctx)
		req, _ := c.Start(ctx)
		if step%3 == 0 {
			s.Handle(ctx, zmtp.Command{Name: name, Data: data})
			return
		}
		rep, err := s.Handle(ctx, req[0])
		if err != nil {
			t.Fatal(err)
		}
		if step%3 == 2 {
			empty, _ := c.Handle(ctx, rep[0])
			s.Handle(ctx, empty[0])
		}
		s.Handle(ctx, zmtp.Command{Name: name, Data: data})
	})
}

// FuzzClientHandshake feeds the client arbitrary commands where the AP-REP
// and where the READY is due.
func FuzzClientHandshake(f *testing.F) {
	f.Add(false, "INITIATE", []byte{0, 0, 0, 0})
	f.Add(true, "MESSAGE", []byte{0, 0, 0, 0})
	f.Add(true, "READY", []byte{})
	fx := newFixture(f, 9)
	f.Fuzz(func(t *testing.T, afterAPRep bool, name string, data []byte) {
		if !zmtp.ValidCommandName(name) && name != "" {
			return
		}
		cm, sm := fx.mechs(t, 90, false, false)
		c, s := handshakes(t, cm, sm, mechanism.Params{})
		defer c.Close()
		defer s.Close()
		ctx := context.Background()
		s.Start(ctx)
		req, _ := c.Start(ctx)
		if afterAPRep {
			rep, err := s.Handle(ctx, req[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Handle(ctx, rep[0]); err != nil {
				t.Fatal(err)
			}
		}
		c.Handle(ctx, zmtp.Command{Name: name, Data: data})
	})
}
