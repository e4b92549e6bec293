// Command zmtpcat is the root module's zmtpcat (netcat for ZMTP, see
// github.com/zmtpsec/zmtpsec/cmd/zmtpcat) with the GSSAPI mechanism
// added: -mechanism gssapi, Kerberos 5 as libzmq 4.3.4 speaks it. It lives
// in the gssapi module so that the root module's command, and the root
// module, stay free of gokrb5.
//
// Usage:
//
//	zmtpcat [flags] ENDPOINT
//
// Every flag of the root zmtpcat works as there; the GSSAPI ones are:
//
//	-gssapi-server            be the GSSAPI server (the Kerberos acceptor)
//	-gssapi-service NAME      client: the service, service@host (required)
//	-gssapi-principal NAME    client: our principal, with -gssapi-keytab or
//	                          -gssapi-password-file; server: accept only
//	                          tickets for this principal of the keytab
//	-gssapi-keytab FILE       client: our keytab; server: the service's
//	                          keytab (required)
//	-gssapi-password-file FILE
//	                          client: our password is the one line of FILE
//	-gssapi-ccache PATH       client: a FILE credential cache (kinit's);
//	                          the default source, as $KRB5CCNAME
//	-gssapi-krb5-conf FILE    krb5.conf (default $KRB5_CONFIG, else
//	                          /etc/krb5.conf)
//	-gssapi-allow-principal P server: let in only these client principals
//	                          (user@REALM; repeatable), through ZAP
//	-gssapi-plaintext         INSECURE: no protection of messages after
//	                          authentication; both sides must agree
//
// A password is never taken from the command line (ps shows it to every
// local user): -gssapi-password is refused.
//
// Example, in a realm where zmqtest/localhost's key is in service.keytab
// and alice has a password:
//
//	go run ./gssapi/cmd/zmtpcat -bind -type REP -echo -mechanism gssapi -gssapi-server -gssapi-keytab service.keytab tcp://127.0.0.1:5555
//	kinit alice
//	echo hello | go run ./gssapi/cmd/zmtpcat -type REQ -n 1 -mechanism gssapi -gssapi-service zmqtest@localhost tcp://127.0.0.1:5555
package main

import "github.com/zmtpsec/zmtpsec/internal/zmtpcat"

func main() { program().Main() }

// program is zmtpcat with the gssapi mechanism.
func program() *zmtpcat.Program {
	return &zmtpcat.Program{Mechanisms: []zmtpcat.Mechanism{gssapiMechanism}}
}
