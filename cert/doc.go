// Package cert handles CURVE key material: X25519 key pairs, their Z85 text
// form (ZeroMQ RFC 32), and the certificate files written by pyzmq's
// zmq.auth.create_certificates and CZMQ's zcert_save.
//
// # Keys
//
// [PublicKey] and [SecretKey] are 32-byte arrays. A PublicKey prints as its
// 40-character Z85 text; a SecretKey never prints its bytes (every fmt verb
// gives "cert.SecretKey(REDACTED)") and is exported deliberately with
// [SecretKey.Bytes] or [SecretKey.Z85]. [GenerateKeyPair] and
// [SecretKey.PublicKey] use crypto/ecdh.
//
// # Z85
//
// [Z85Encode] and [Z85Decode] implement RFC 32 with the checks libzmq makes:
// the input length, the alphabet and the 0xFFFFFFFF bound on each 5-character
// group. Every failure is a [*Z85Error] wrapping [ErrZ85Length], [ErrZ85Char]
// or [ErrZ85Overflow].
//
// # Certificate files
//
// A certificate file is a ZPL (ZeroMQ RFC 4) tree with a "metadata" section
// and a "curve" section holding "public-key" and, in the secret file,
// "secret-key":
//
//	#   ****  Generated on 2025-01-02 03:04:05 by CZMQ  ****
//	#   ZeroMQ CURVE Public Certificate
//	...
//
//	metadata
//	    name = "example-client"
//	curve
//	    public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
//
// Two file naming schemes are in use, selected by a [Layout]:
// [LayoutCZMQ] writes NAME and NAME_secret, [LayoutPyzmq] writes NAME.key and
// NAME.key_secret. [Certificate.Save], [Certificate.MarshalPublic] and
// [Certificate.MarshalSecret] produce the same bytes as the tool each layout
// is named after, apart from the timestamp on the first line.
//
// [ParseCertificate], [LoadCertificate] and [LoadCertificates] read either
// layout with a strict ZPL reader: what CZMQ rejects is rejected too, and so
// are duplicate keys, malformed keys and a secret key that does not belong to
// the public key. Every such failure is a [*ParseError] naming the file and
// line. [Certificate.KeyPair] gives the key pair of a secret certificate, for
// a CURVE mechanism, and [ErrNoSecretKey] for a public one. A [Store] follows a certificate directory as files are added,
// changed and removed; it is meant for a ZAP authenticator.
package cert
