// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// maxKDCReply bounds a KDC reply read over TCP; its length prefix is
// checked before anything is allocated.
const maxKDCReply = 1 << 20

// defaultAttemptTimeout bounds one TCP attempt at one KDC address.
const defaultAttemptTimeout = 2 * time.Second

// exchange sends a KDC request for realm and returns the reply (which may
// be a KRB-ERROR). It tries each KDC of the realm in turn, over UDP first
// when the request fits udp_preference_limit, then TCP, all within ctx.
// It fails with ErrKDCUnreachable, which also wraps the last cause.
func (s *KDCTicketSource) exchange(ctx context.Context, realm string, req []byte) ([]byte, error) {
	addrs, err := s.kdcAddrs(ctx, realm)
	if err != nil {
		return nil, err
	}
	limit := s.conf.c.LibDefaults.UDPPreferenceLimit
	udpFirst := limit > 1 && len(req) <= limit
	attempt := s.AttemptTimeout
	if attempt <= 0 {
		attempt = defaultAttemptTimeout
	}
	var last error
	for _, addr := range addrs {
		if udpFirst {
			rb, err := roundTrip(ctx, "udp", addr, req, attempt/2)
			if err == nil {
				if ke, ok := asKRBError(rb); !ok || ke.ErrorCode != 52 { // not RESPONSE_TOO_BIG
					return rb, nil
				}
			} else {
				last = err
			}
		}
		rb, err := roundTrip(ctx, "tcp", addr, req, attempt)
		if err == nil {
			return rb, nil
		}
		last = err
		if ctxDone(ctx) != nil {
			break
		}
	}
	if err := ctxDone(ctx); err != nil {
		last = err
	}
	return nil, fmt.Errorf("%w: realm %q: %w", ErrKDCUnreachable, realm, last)
}

// kdcAddrs returns the KDC addresses of realm from krb5.conf, with port 88
// where none is given, or from DNS SRV records when krb5.conf names none
// and dns_lookup_kdc is set.
func (s *KDCTicketSource) kdcAddrs(ctx context.Context, realm string) ([]string, error) {
	var out []string
	for _, r := range s.conf.c.Realms {
		if r.Realm != realm {
			continue
		}
		for _, k := range r.KDC {
			if _, _, err := net.SplitHostPort(k); err != nil {
				k = net.JoinHostPort(k, "88")
			}
			out = append(out, k)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if s.conf.c.LibDefaults.DNSLookupKDC {
		_, srvs, err := net.DefaultResolver.LookupSRV(ctx, "kerberos", "tcp", realm)
		if err == nil {
			for _, srv := range srvs {
				out = append(out, net.JoinHostPort(srv.Target, strconv.Itoa(int(srv.Port))))
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: realm %q: no KDC in krb5.conf, DNS: %w", ErrKDCUnreachable, realm, err)
		}
	}
	return nil, fmt.Errorf("%w: no KDC for realm %q in krb5.conf", ErrBadConfig, realm)
}

// roundTrip sends req to one KDC address and reads one reply, within both
// ctx and the attempt timeout. Over TCP each message has a 4-byte length
// prefix (RFC 4120 §7.2.2); the reply's is checked against maxKDCReply.
func roundTrip(ctx context.Context, network, addr string, req []byte, timeout time.Duration) ([]byte, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(actx, network, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := actx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A cancelled ctx (not only an expired one) interrupts the I/O.
	stop := context.AfterFunc(actx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if network == "udp" {
		if _, err := conn.Write(req); err != nil {
			return nil, err
		}
		buf := make([]byte, 65536)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errors.New("empty UDP reply")
		}
		return buf[:n], nil
	}
	msg := make([]byte, 4+len(req))
	binary.BigEndian.PutUint32(msg, uint32(len(req)))
	copy(msg[4:], req)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxKDCReply {
		return nil, fmt.Errorf("KDC reply of %d bytes (limit %d)", n, maxKDCReply)
	}
	rb := make([]byte, n)
	if _, err := io.ReadFull(conn, rb); err != nil {
		return nil, err
	}
	return rb, nil
}

// ctxDone returns ctx's error, or context.DeadlineExceeded once its
// deadline has passed: a connection deadline set from it can fire a moment
// before the context's own timer does.
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
