// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtpsec/zmtpsec/gssapi"
	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
)

func mustConf(t *testing.T, kdcs ...string) *gssapi.Krb5Config {
	t.Helper()
	text := "[libdefaults]\n default_realm = ZMTP.TEST\n udp_preference_limit = 1\n[realms]\n ZMTP.TEST = {\n"
	for _, k := range kdcs {
		text += "  kdc = " + k + "\n"
	}
	text += " }\n[domain_realm]\n .example.org = EXAMPLE.ORG\n"
	c, err := gssapi.ParseKrb5Config(text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKDCSources is acceptance test 5 against a real MIT KDC: a client gets
// a service ticket from a keytab, a password and a FILE ccache, and each
// ticket establishes a context with an acceptor on the service keytab.
func TestKDCSources(t *testing.T) {
	r := startRealm(t)
	conf, err := gssapi.LoadKrb5Config(r.conf)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := conf.ParseName("alice", gssapi.UserName)
	service, _ := conf.ParseName("zmqtest@localhost", gssapi.HostBasedService)
	ckt, err := gssapi.LoadKeytab("FILE:" + r.path("client.keytab"))
	if err != nil {
		t.Fatal(err)
	}
	skt, err := gssapi.LoadKeytab(r.path("service.keytab"))
	if err != nil {
		t.Fatal(err)
	}
	r.run(t, "kinit", "-c", "FILE:"+r.path("cc"), "-k", "-t", r.path("client.keytab"), "alice@"+realmName)

	sources := map[string]func() (*gssapi.KDCTicketSource, error){
		"keytab": func() (*gssapi.KDCTicketSource, error) { return gssapi.NewKeytabTicketSource(conf, alice, ckt) },
		"password": func() (*gssapi.KDCTicketSource, error) {
			return gssapi.NewPasswordTicketSource(conf, alice, "alice-password")
		},
		"ccache": func() (*gssapi.KDCTicketSource, error) {
			return gssapi.NewCCacheTicketSource(conf, "FILE:"+r.path("cc"))
		},
	}
	for name, mk := range sources {
		t.Run(name, func(t *testing.T) {
			src, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			if src.Client().String() != "alice@ZMTP.TEST" {
				t.Errorf("client %q", src.Client().String())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			st, err := src.ServiceTicket(ctx, service)
			if err != nil {
				t.Fatalf("ServiceTicket: %v", err)
			}
			if st.Service.String() != "zmqtest/localhost@ZMTP.TEST" || !st.EndTime.After(time.Now()) {
				t.Errorf("ticket for %q until %v", st.Service.String(), st.EndTime)
			}
			// The ticket bytes are the KDC's and parse as a Ticket.
			var tkt messages.Ticket
			if err := tkt.Unmarshal(st.Ticket); err != nil || tkt.SName.PrincipalNameString() != "zmqtest/localhost" {
				t.Fatalf("ticket: %v %v", err, tkt.SName)
			}
			// A second call comes from the cache: the same ticket.
			st2, err := src.ServiceTicket(ctx, service)
			if err != nil || !bytes.Equal(st2.Ticket, st.Ticket) {
				t.Errorf("second ServiceTicket: %v, same ticket %v", err, bytes.Equal(st2.Ticket, st.Ticket))
			}
			establishWith(t, st, skt)
			// Secrets never print.
			for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
				for _, v := range []any{src, st, skt, *st} {
					s := fmt.Sprintf(f, v)
					if strings.Contains(s, "alice-password") || bytes.Contains([]byte(s), []byte(fmt.Sprintf("%x", st.SessionKey.Value[:8]))) ||
						strings.Contains(s, fmt.Sprint(st.SessionKey.Value[:4])) {
						t.Errorf("%s of %T prints a secret: %s", f, v, s)
					}
				}
			}
		})
	}
}

// establishWith runs the context layer on a real KDC's ticket.
func establishWith(t *testing.T, st *gssapi.ServiceTicket, skt *gssapi.Keytab) {
	t.Helper()
	in, tok, err := gss.NewInitiator(gss.InitiatorConfig{Client: st.Client, Ticket: st.Ticket, SessionKey: st.SessionKey})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := gss.NewAcceptor(gss.AcceptorConfig{Keytab: gssapi.KeytabInternal(skt)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := acc.Accept(tok)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if res.Client.String() != "alice@ZMTP.TEST" {
		t.Errorf("acceptor sees %q", res.Client.String())
	}
	ctx, err := in.ReadAPRep(res.Token)
	if err != nil {
		t.Fatalf("ReadAPRep: %v", err)
	}
	w, err := ctx.Wrap(nil, []byte("\x00hello"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := res.Context.Unwrap(nil, w); err != nil || string(p) != "\x00hello" {
		t.Fatalf("Unwrap: %q %v", p, err)
	}
}

// TestKDCFailures: each failure against the real KDC is typed and fast.
func TestKDCFailures(t *testing.T) {
	r := startRealm(t)
	conf, err := gssapi.LoadKrb5Config(r.conf)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := conf.ParseName("alice", gssapi.UserName)
	service, _ := conf.ParseName("zmqtest@localhost", gssapi.HostBasedService)
	nosuch, _ := conf.ParseName("nosuch@localhost", gssapi.HostBasedService)
	mallory, _ := conf.ParseName("mallory", gssapi.UserName)
	for _, tc := range []struct {
		name    string
		src     func() (*gssapi.KDCTicketSource, error)
		service gssapi.Principal
		want    error
	}{
		{"unknown service", func() (*gssapi.KDCTicketSource, error) {
			return gssapi.NewPasswordTicketSource(conf, alice, "alice-password")
		}, nosuch, gssapi.ErrUnknownService},
		{"wrong password", func() (*gssapi.KDCTicketSource, error) {
			return gssapi.NewPasswordTicketSource(conf, alice, "wrong")
		}, service, gssapi.ErrPreauthFailed},
		{"unknown client", func() (*gssapi.KDCTicketSource, error) {
			return gssapi.NewPasswordTicketSource(conf, mallory, "x")
		}, service, gssapi.ErrUnknownClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := tc.src()
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = src.ServiceTicket(context.Background(), tc.service)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ServiceTicket = %v, want %v", err, tc.want)
			}
			var ke *gssapi.KDCError
			if !errors.As(err, &ke) && tc.want != gssapi.ErrPreauthFailed {
				t.Errorf("not a *KDCError: %T", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestNoCredentials: what a client lacks is ErrNoCredentials (or
// ErrBadConfig for a cache kind gokrb5 cannot read), before any network.
func TestNoCredentials(t *testing.T) {
	conf := mustConf(t, "127.0.0.1:1")
	alice, _ := conf.ParseName("alice", gssapi.UserName)
	empty, err := gssapi.ParseKeytab([]byte{5, 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gssapi.NewKeytabTicketSource(conf, alice, empty); !errors.Is(err, gssapi.ErrNoCredentials) {
		t.Errorf("empty keytab: %v", err)
	}
	if _, err := gssapi.NewPasswordTicketSource(conf, alice, ""); !errors.Is(err, gssapi.ErrNoCredentials) {
		t.Errorf("empty password: %v", err)
	}
	if _, err := gssapi.NewCCacheTicketSource(conf, "FILE:"+t.TempDir()+"/none"); !errors.Is(err, gssapi.ErrNoCredentials) {
		t.Errorf("missing ccache: %v", err)
	}
	for _, name := range []string{"KEYRING:persistent:0", "KCM:", "DIR:/tmp/x"} {
		if _, err := gssapi.NewCCacheTicketSource(conf, name); !errors.Is(err, gssapi.ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := gssapi.NewServerCredentials(empty, gssapi.Principal{}); !errors.Is(err, gssapi.ErrNoCredentials) {
		t.Errorf("server, empty keytab: %v", err)
	}
	// A truncated credential cache (gokrb5's parser would index out of
	// range) is ErrBadConfig.
	for _, b := range [][]byte{{5, 4, 0, 12}, {5, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 200}} {
		path := filepath.Join(t.TempDir(), "cc")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := gssapi.NewCCacheTicketSource(conf, path); !errors.Is(err, gssapi.ErrBadConfig) {
			t.Errorf("ccache % x: %v", b, err)
		}
	}
	// Bad keytabs: an ErrBadConfig that does not quote the file (gokrb5's
	// own message would), never a panic.
	secret := []byte("KEYBYTES-KEYBYTES")
	for _, b := range [][]byte{nil, {5}, {5, 3}, append([]byte{5, 2, 0, 0, 0, 50, 1}, secret...), {5, 2, 0, 0, 0, 4, 0, 9}} {
		_, err := gssapi.ParseKeytab(b)
		if !errors.Is(err, gssapi.ErrBadConfig) || strings.Contains(err.Error(), "KEYBYTES") {
			t.Errorf("keytab % x: %v", b, err)
		}
	}
}

// fakeKDC answers every TCP request with reply(req), or never when reply
// is nil. It stops with the test.
func fakeKDC(t *testing.T, reply func() []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if reply == nil {
				continue // silent
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var hdr [4]byte
				if _, err := c.Read(hdr[:]); err != nil {
					return
				}
				b := reply()
				c.Write(append([]byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...))
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// TestKDCUnreachable: a closed port, a silent KDC under a context deadline
// and a silent KDC without one each fail with ErrKDCUnreachable within a
// bound, never a 30 s stall.
func TestKDCUnreachable(t *testing.T) {
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	silent := fakeKDC(t, nil)
	for _, tc := range []struct {
		name    string
		kdcs    []string
		timeout time.Duration // context deadline, 0 for none
		bound   time.Duration
		ctxErr  bool
	}{
		{"closed port", []string{closed}, 0, time.Second, false},
		{"silent, 500 ms deadline", []string{silent}, 500 * time.Millisecond, 1500 * time.Millisecond, true},
		{"silent, no deadline, one attempt", []string{silent}, 0, 3 * time.Second, false},
		{"closed then silent, 800 ms", []string{closed, silent}, 800 * time.Millisecond, 2 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := mustConf(t, tc.kdcs...)
			alice, _ := conf.ParseName("alice", gssapi.UserName)
			svc, _ := conf.ParseName("zmqtest@localhost", gssapi.HostBasedService)
			src, err := gssapi.NewPasswordTicketSource(conf, alice, "pw")
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err = src.ServiceTicket(ctx, svc)
			d := time.Since(start)
			if !errors.Is(err, gssapi.ErrKDCUnreachable) {
				t.Fatalf("ServiceTicket = %v", err)
			}
			if tc.ctxErr && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("does not wrap the deadline: %v", err)
			}
			if d > tc.bound {
				t.Errorf("took %v, bound %v", d, tc.bound)
			}
		})
	}
}

// TestKDCErrorMapping: KRB-ERRORs from a KDC map to their sentinels, and
// the KDC's text is quoted.
func TestKDCErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		code int32
		want error
	}{
		{37, gssapi.ErrClockSkew},
		{7, gssapi.ErrUnknownService},
		{6, gssapi.ErrUnknownClient},
		{24, gssapi.ErrPreauthFailed},
	} {
		addr := fakeKDC(t, func() []byte {
			ke := messages.NewKRBError(types.PrincipalName{NameType: 2, NameString: []string{"krbtgt", "ZMTP.TEST"}}, "ZMTP.TEST", tc.code, "text\x1b[2J")
			b, _ := ke.Marshal()
			return b
		})
		conf := mustConf(t, addr)
		alice, _ := conf.ParseName("alice", gssapi.UserName)
		svc, _ := conf.ParseName("zmqtest@localhost", gssapi.HostBasedService)
		src, _ := gssapi.NewPasswordTicketSource(conf, alice, "pw")
		_, err := src.ServiceTicket(context.Background(), svc)
		var ke *gssapi.KDCError
		if !errors.Is(err, tc.want) || !errors.As(err, &ke) || ke.Code != tc.code {
			t.Errorf("code %d: %v", tc.code, err)
			continue
		}
		if strings.Contains(err.Error(), "\x1b") {
			t.Errorf("KDC text not quoted: %q", err.Error())
		}
	}
}

// TestKDCGarbage: replies that are not Kerberos are ErrMalformed, and a
// reply length over the limit is refused before allocation.
func TestKDCGarbage(t *testing.T) {
	for _, reply := range [][]byte{{0x6b, 0x01}, {0x7e, 0x03, 0x30, 0x01}, bytes.Repeat([]byte{0x30}, 100)} {
		addr := fakeKDC(t, func() []byte { return reply })
		conf := mustConf(t, addr)
		alice, _ := conf.ParseName("alice", gssapi.UserName)
		svc, _ := conf.ParseName("zmqtest@localhost", gssapi.HostBasedService)
		src, _ := gssapi.NewPasswordTicketSource(conf, alice, "pw")
		if _, err := src.ServiceTicket(context.Background(), svc); !errors.Is(err, gssapi.ErrMalformed) {
			t.Errorf("reply % x: %v", reply, err)
		}
	}
}

func TestParseName(t *testing.T) {
	conf := mustConf(t, "127.0.0.1:88")
	for _, tc := range []struct {
		name string
		nt   gssapi.NameType
		want string
		bad  bool
	}{
		{"zmqtest@localhost", gssapi.HostBasedService, "zmqtest/localhost@ZMTP.TEST", false},
		{"zmq@Host.Example.ORG.", gssapi.HostBasedService, "zmq/host.example.org@EXAMPLE.ORG", false},
		{"zmq", gssapi.HostBasedService, "zmq/localhost@ZMTP.TEST", false},
		{"zmq@", gssapi.HostBasedService, "", true},
		{"a/b@h", gssapi.HostBasedService, "", true},
		{"alice", gssapi.UserName, "alice@ZMTP.TEST", false},
		{"alice@X", gssapi.UserName, "", true},
		{"alice", gssapi.KerberosPrincipal, "alice@ZMTP.TEST", false},
		{"zmqtest/localhost@OTHER.REALM", gssapi.KerberosPrincipal, "zmqtest/localhost@OTHER.REALM", false},
		{`a\@b/c@R`, gssapi.KerberosPrincipal, `a\@b/c@R`, false},
		{"a//b", gssapi.KerberosPrincipal, "", true},
		{"a@", gssapi.KerberosPrincipal, "", true},
		{"", gssapi.UserName, "", true},
	} {
		p, err := conf.ParseName(tc.name, tc.nt)
		if tc.bad {
			if err == nil {
				t.Errorf("%q (%d): accepted as %q", tc.name, tc.nt, p.String())
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("%q (%d) = %q, %v; want %q", tc.name, tc.nt, p.String(), err, tc.want)
		}
	}
}
