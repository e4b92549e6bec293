// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// MintTicket makes what a KDC would issue client for service: a Ticket
// encrypted under serviceKey (kvno), valid from start to end, with a fresh
// session key of the service key's enctype. It is for tests and fuzz
// targets that need a ticket without a KDC (a deterministic rand gives
// reproducible tickets).
func MintTicket(rand io.Reader, serviceKey Key, kvno int, client, service Principal, start, end time.Time) ([]byte, Key, error) {
	sess, err := NewKey(rand, serviceKey.Enctype)
	if err != nil {
		return nil, Key{}, err
	}
	etp := messages.EncTicketPart{
		Flags:     asn1.BitString{Bytes: []byte{0x40, 0x80, 0, 0}, BitLength: 32},
		Key:       types.EncryptionKey{KeyType: sess.Enctype, KeyValue: sess.Value},
		CRealm:    client.Realm,
		CName:     client.name(),
		Transited: messages.TransitedEncoding{TRType: 1, Contents: []byte{}},
		AuthTime:  start.UTC().Truncate(time.Second),
		StartTime: start.UTC().Truncate(time.Second),
		EndTime:   end.UTC().Truncate(time.Second),
	}
	b, err := asn1.Marshal(etp)
	if err != nil {
		return nil, Key{}, fmt.Errorf("gssapi: encoding EncTicketPart: %w", err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart)
	ed, err := crypto.GetEncryptedData(b, types.EncryptionKey{KeyType: serviceKey.Enctype, KeyValue: serviceKey.Value}, usageTicket, kvno)
	if err != nil {
		return nil, Key{}, fmt.Errorf("gssapi: encrypting ticket: %w", err)
	}
	tkt := messages.Ticket{TktVNO: pvno, Realm: service.Realm, SName: service.name(), EncPart: ed}
	tb, err := tkt.Marshal()
	if err != nil {
		return nil, Key{}, fmt.Errorf("gssapi: encoding ticket: %w", err)
	}
	return tb, sess, nil
}

// WrapEmpty returns a properly sealed Wrap token with an empty plaintext,
// which Wrap refuses to make (libzmq 4.3.4 aborts on it), and advances the
// send sequence. It is for tests that check a receiver refuses one.
func WrapEmpty(c *Context) ([]byte, error) {
	if c.sendKey.Value == nil {
		return nil, ErrContextClosed
	}
	var hdr [wrapHeaderSize]byte
	hdr[0], hdr[1], hdr[2], hdr[3] = 0x05, 0x04, c.sendFlags(), 0xff
	binary.BigEndian.PutUint64(hdr[8:], c.sendSeq)
	ct, err := encrypt(c.sendKey, c.usage(!c.initiator), hdr[:])
	if err != nil {
		return nil, err
	}
	c.sendSeq++
	return append(hdr[:], ct...), nil
}
