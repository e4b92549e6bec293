package zap

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// Status texts of the replies an [Authenticator] sends. The 400 texts are
// those of pyzmq's zmq.auth.Authenticator. libzmq does not pass the status
// text to the client (it sends ERROR "400"), so they reach only the server's
// own logs and the caller of [Authenticator.Authenticate].
const (
	TextOK                 = "OK"
	TextNoAccess           = "NO ACCESS"           // unknown mechanism, no address lists
	TextAddressNotAllowed  = "Address not allowed" // not on the allow list
	TextAddressDenied      = "Address denied"      // on the deny list
	TextInvalidVersion     = "Invalid version"
	TextInvalidRequest     = "Invalid request" // a nil request
	TextInvalidCredentials = "Invalid credentials"
	TextNoPasswords        = "No passwords defined"
	TextInvalidDomain      = "Invalid domain" // PLAIN
	TextInvalidUsername    = "Invalid username"
	TextInvalidPassword    = "Invalid password"
	TextUnknownDomain      = "Unknown domain" // CURVE
	TextUnknownKey         = "Unknown key"
	TextUnknownPrincipal   = "Unknown principal" // GSSAPI, not on the domain's list
	TextInternalError      = "Internal error"    // status 500; the cause is logged
)

// AnonymousUserID is the user id of a client authenticated without
// credentials (NULL, or an unknown mechanism let through by the address
// lists), as in pyzmq.
const AnonymousUserID = "anonymous"

// An Authenticator is an in-process ZAP [Handler] with the policy of pyzmq's
// zmq.auth.Authenticator under Go names: [Authenticator.Allow] and
// [Authenticator.Deny] (allow, deny), [Authenticator.ConfigurePlain]
// (configure_plain), [Authenticator.ConfigureCurve] and [CurveAllowAny]
// (configure_curve, CURVE_ALLOW_ANY), [Authenticator.SetCurveUserID]
// (curve_user_id) and [Authenticator.ConfigureGSSAPI] (configure_gssapi).
// [Authenticator.ConfigurePlainFile] adds CZMQ zauth's password file,
// [Authenticator.ConfigureGSSAPIPrincipals] a list of the Kerberos
// principals a domain lets in, and [Authenticator.SetGSSAPIUserID] a user
// id hook for them.
//
// The zero value is ready to use, as is the result of [NewAuthenticator].
// An Authenticator is safe for concurrent use: it may be configured while it
// answers requests. A request sees the address lists and domain
// configuration as they are when it arrives.
//
// # Files
//
// Password files ([Authenticator.ConfigurePlainFile]) and certificate
// directories ([Authenticator.ConfigureCurve]) are read into memory, and a
// request is decided without any file I/O, against the keys and password
// digests held there. A goroutine looks at the files again every reload
// interval ([Authenticator.SetReloadInterval], 1 s by default) and reads
// what changed, so a change is seen within about an interval;
// [Authenticator.Reload] looks at once. An Authenticator that runs that
// goroutine must be closed with [Authenticator.Close]. Files are opened so
// that nothing put in their place (a FIFO, a device, a link to either)
// can block a reload, and errors about a file never quote its content.
//
// # Decisions
//
// [Authenticator.Authenticate] decides in pyzmq's order. First, a version
// other than "1.0" is refused with "Invalid version". Then come the address
// lists: with an allow list, an address not on it is refused ("Address not
// allowed"); with a deny list, an address on it is refused ("Address
// denied"). Entries are addresses or CIDR ranges, compared as IP addresses,
// not as text. Last, the mechanism decides:
//
//   - NULL: accepted, user id "anonymous".
//   - PLAIN: the client must authenticate even if its address is on the
//     allow list. "Invalid credentials" (not exactly a username and a
//     password of at most 255 bytes each), "No passwords defined" (no
//     domain has passwords), "Invalid domain", "Invalid username",
//     "Invalid password". The user id is the username.
//   - CURVE: the client must authenticate even if its address is on the
//     allow list. "Invalid credentials" (not exactly one 32-byte key),
//     "Unknown domain", "Unknown key". The user id is that of the
//     [Authenticator.SetCurveUserID] hook, and the reply metadata is the
//     metadata of the client's certificate.
//   - GSSAPI: the credential is the client's Kerberos principal
//     ("user@REALM", one frame of 1 to 255 bytes), which the GSSAPI
//     mechanism has already authenticated: "Invalid credentials"
//     otherwise. A domain whose principals are listed
//     ([Authenticator.ConfigureGSSAPIPrincipals]) lets in only those, an
//     exact, case-sensitive match ("Unknown principal"); any other domain
//     lets in every principal, as pyzmq and CZMQ do (and
//     [Authenticator.ConfigureGSSAPI] makes a domain do so again). An
//     allowed address does not spare the check of the list. The user id
//     is the principal, or what the [Authenticator.SetGSSAPIUserID] hook
//     makes of it.
//   - Any other mechanism: the address lists decide. With neither list,
//     "NO ACCESS"; with a deny list, an address not on it is accepted with
//     user id "anonymous" (pyzmq does the same).
//
// Accepted requests get status 200 "OK". Refused ones get 400 with an
// empty user id. Internal failures get 500 "Internal error" and are logged:
// a password file that cannot be read, a key not found while its
// certificate directory could not be read in full, a user id hook that
// panics or returns more than 255 bytes. Every reply echoes the request id
// and has version "1.0". Authenticate never returns an error and never
// panics.
//
// # Domains
//
// PLAIN, CURVE and GSSAPI are configured per ZAP domain. A request uses
// the configuration of its own domain if there is one, and otherwise that
// of the domain "*". The empty domain is a domain like any other, so a server
// with no domain set finds "*" through the fallback.
//
// # Differences from pyzmq
//
//   - pyzmq maps the empty domain to "*" and never falls back from any other
//     domain to "*"; here every domain falls back (as pebbe/zmq4 does).
//   - [CurveAllowAny] applies to the one domain it is configured for. In
//     pyzmq it is one global flag, and configuring a directory for any
//     domain turns it off for all.
//   - Address lists hold IP addresses and CIDR ranges and match them as
//     addresses ("::ffff:1.2.3.4" is "1.2.3.4"); pyzmq compares strings.
//   - Passwords can come from a file, and both password files and
//     certificate directories are followed as they change (see Files);
//     pyzmq loads both once.
//   - Passwords are compared in constant time and never logged; pyzmq logs
//     a successful PLAIN password at DEBUG.
//   - CURVE replies carry the certificate's metadata, as CZMQ does; pyzmq
//     never sends metadata.
//   - A NULL request with credential frames is refused ("Invalid
//     credentials"); such a request cannot come from libzmq.
//   - Internal failures get 500. pyzmq's authenticator thread dies on an
//     exception, so every later handshake waits for its timeout.
//   - GSSAPI principals can be listed per domain, and mapped to user ids;
//     pyzmq lets every principal in. An empty principal, which no GSSAPI
//     server sends, is refused ("Invalid credentials").
type Authenticator struct {
	mu sync.RWMutex // guards the fields below
	// allow and deny are never both non-empty. They are replaced, never
	// modified, so a request may keep using a list it read.
	allow, deny []netip.Prefix
	plain       map[string]*passwordSource
	curve       map[string]*curveDomain
	curveUserID func(cert.PublicKey) string // nil means DefaultCurveUserID
	// gssapi holds the domains configured for GSSAPI; an entry is
	// replaced, never modified.
	gssapi       map[string]*gssapiDomain
	gssapiUserID func(principal string) string // nil means the principal
	logger       *slog.Logger
	// reloadInterval is that of SetReloadInterval; 0 means the default.
	reloadInterval time.Duration
	// refresher reloads the file sources; nil until the first is
	// configured.
	refresher *refresher
	closed    bool // Close was called
}

// NewAuthenticator returns an Authenticator with nothing configured: no
// address lists, no passwords, no CURVE domains, no logging. It answers
// NULL requests with 200 and every PLAIN and CURVE request with 400. It
// runs no goroutine until a password file or certificate directory is
// configured (see [Authenticator.Close]).
func NewAuthenticator() *Authenticator {
	return &Authenticator{}
}

// DefaultCurveUserID returns the Z85 text of key, the user id pyzmq's
// curve_user_id and CZMQ give a CURVE client.
func DefaultCurveUserID(key cert.PublicKey) string { return key.String() }

// SetCurveUserID sets the function that maps an authenticated CURVE
// client's key to its user id, pyzmq's curve_user_id. nil restores
// [DefaultCurveUserID]. It is called for clients accepted through a
// certificate directory and through [CurveAllowAny] alike (CZMQ gives no
// user id for the latter; pyzmq calls curve_user_id). A panic, or a result
// longer than 255 bytes, makes the reply 500.
func (a *Authenticator) SetCurveUserID(f func(cert.PublicKey) string) {
	a.mu.Lock()
	a.curveUserID = f
	a.mu.Unlock()
}

// SetLogger sets the logger, or turns logging off with nil (the default).
// Each decision is logged at [slog.LevelDebug] with the attributes domain,
// address, mechanism, user, status and reason, where user is what the
// client presented: the PLAIN username, the CURVE key (its user id once
// accepted), the GSSAPI principal. Files that cannot be read, skipped
// metadata and internal failures are logged at higher levels. Passwords
// are never logged.
func (a *Authenticator) SetLogger(l *slog.Logger) {
	a.mu.Lock()
	a.logger = l
	a.mu.Unlock()
}

// Allow adds addresses to the allow list: IPv4 or IPv6 addresses, or CIDR
// ranges such as "10.0.0.0/8" or "2001:db8::/32". With a non-empty allow
// list, only clients whose address is on it pass the address check, and
// PLAIN and CURVE clients must still authenticate.
//
// A request's address is matched as an IP address; one that is not (such
// as an IPC peer's) is on no list, so an allow list refuses it and a deny
// list lets it through. An address with a port or a zone is matched without
// them.
//
// An entry that is neither an address nor a range is an error naming it,
// and then nothing is added. If a deny list is set, the error wraps
// [ErrAllowAndDeny], as pyzmq raises ValueError.
func (a *Authenticator) Allow(addrs ...string) error {
	list, err := parseAddrList(addrs)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.deny) > 0 {
		return fmt.Errorf("zap: Allow with a deny list set: %w", ErrAllowAndDeny)
	}
	a.allow = mergeAddrList(a.allow, list)
	return nil
}

// Deny adds addresses to the deny list, in the forms [Authenticator.Allow]
// takes. Clients whose address is on it are refused whatever their
// mechanism. If an allow list is set, the error wraps [ErrAllowAndDeny].
func (a *Authenticator) Deny(addrs ...string) error {
	list, err := parseAddrList(addrs)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.allow) > 0 {
		return fmt.Errorf("zap: Deny with an allow list set: %w", ErrAllowAndDeny)
	}
	a.deny = mergeAddrList(a.deny, list)
	return nil
}

// ConfigurePlain sets the PLAIN users of domain ("*" for the fallback
// domain) to the name → password map passwords, which is copied. It
// replaces any earlier configuration of domain, including a password file.
// An empty map configures the domain with no users.
//
// Passwords are kept only as SHA-256 digests and compared in constant time
// (see [crypto/subtle]).
func (a *Authenticator) ConfigurePlain(domain string, passwords map[string]string) {
	src := fixedPasswords(domain, passwords)
	a.mu.Lock()
	if a.plain == nil {
		a.plain = make(map[string]*passwordSource)
	}
	a.plain[domain] = src
	a.wakeLocked()
	a.mu.Unlock()
}

// ConfigurePlainFile sets the PLAIN users of domain from the password file
// at path, in CZMQ zauth's format: one "name=password" per line, lines
// starting with "#" and lines without a name and "=" skipped, each line split
// at its first "=", nothing trimmed, a later line for a name replacing an
// earlier one. The one difference from CZMQ: a "\r" at the end of a line is
// dropped with the "\n", so CRLF files work (in CZMQ the "\r" would end the
// password).
//
// The file must be readable now, or ConfigurePlainFile returns an error and
// changes nothing. After that, the file is looked at every reload interval
// (see [Authenticator.SetReloadInterval]) and read again if its identity,
// size or times changed, so an edit or an atomic rename takes effect within
// about an interval, with no stability wait as in CZMQ. If the file cannot
// be read (it was removed, its permissions changed, something other than a
// regular file took its place), PLAIN requests for the domain fail closed
// with 500 until it can be read again; the problem is logged once.
//
// Replace the file by renaming a new one over it: a file rewritten in place
// may be read half-written by a reload that runs during the write (the next
// reload then reads it again). Files over [MaxPasswordFileSize] bytes
// cannot be read. The Authenticator must be closed when no longer needed
// (see [Authenticator.Close]); after Close, ConfigurePlainFile returns
// [ErrClosed].
func (a *Authenticator) ConfigurePlainFile(domain, path string) error {
	a.mu.RLock()
	closed, interval := a.closed, a.intervalLocked()
	a.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	src := filePasswords(domain, path, interval)
	if err := src.reload(nil); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if a.plain == nil {
		a.plain = make(map[string]*passwordSource)
	}
	src.setInterval(a.intervalLocked())
	a.plain[domain] = src
	a.startRefresherLocked()
	a.wakeLocked()
	return nil
}

// ConfigureCurve sets the CURVE clients allowed in domain ("*" for the
// fallback domain). location is either [CurveAllowAny], which allows any
// client key in that domain only (in pyzmq the flag is global), or a
// directory of public certificates in pyzmq's or CZMQ's layout (see
// [cert.LoadCertificates]). It replaces any earlier configuration of domain.
//
// A directory must load in full now, or ConfigureCurve returns an error and
// changes nothing. Its certificates are then held in memory (see
// [cert.Store]), and requests are decided without reading the directory.
// It is scanned again every reload interval (see
// [Authenticator.SetReloadInterval]), reading only the files that changed,
// so certificates added, changed or removed take effect within about an
// interval. Files that then fail to load are left out and logged; a key
// not found while that is so gets 500 instead of "Unknown key". A
// directory that can no longer be read (or is no longer a directory)
// leaves no certificate: it fails closed. Keys are looked up by the
// client's 32-byte key; a directory literally named "*" is given as "./*".
//
// The Authenticator must be closed when no longer needed (see
// [Authenticator.Close]); after Close, ConfigureCurve with a directory
// returns [ErrClosed].
func (a *Authenticator) ConfigureCurve(domain, location string) error {
	cd := &curveDomain{domain: domain}
	if location == CurveAllowAny {
		cd.allowAny = true
		a.mu.Lock()
		if a.curve == nil {
			a.curve = make(map[string]*curveDomain)
		}
		a.curve[domain] = cd
		a.wakeLocked()
		a.mu.Unlock()
		return nil
	}
	a.mu.RLock()
	closed, interval := a.closed, a.intervalLocked()
	a.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	fi, err := os.Stat(location)
	if err != nil {
		return fmt.Errorf("zap: certificate directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("zap: certificate directory %s: not a directory", location)
	}
	cd.store = cert.NewStore(location)
	cd.interval.Store(int64(interval))
	if err := cd.reload(nil); err != nil {
		return fmt.Errorf("zap: certificate directory %s: %w", location, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if a.curve == nil {
		a.curve = make(map[string]*curveDomain)
	}
	cd.setInterval(a.intervalLocked())
	a.curve[domain] = cd
	a.startRefresherLocked()
	a.wakeLocked()
	return nil
}

// ConfigureGSSAPI lets every GSSAPI client into domain ("*" for the
// fallback domain): every principal the GSSAPI mechanism authenticated,
// with the principal as user id (see [Authenticator.SetGSSAPIUserID]). It
// replaces a list of principals configured for domain. location is
// ignored, as in pyzmq and CZMQ, whose configure_gssapi does nothing: a
// domain that is not configured lets every principal in too.
func (a *Authenticator) ConfigureGSSAPI(domain, location string) {
	a.setGSSAPI(domain, &gssapiDomain{allowAny: true})
}

// ConfigureGSSAPIPrincipals lets into domain ("*" for the fallback domain)
// only the GSSAPI clients whose principal is one of principals, compared
// exactly and case-sensitively as "user@REALM" (the form libzmq's GSSAPI
// server puts in the request). It replaces any earlier configuration of
// domain; with no principals, the domain lets no GSSAPI client in. A
// principal not on the list is refused with "Unknown principal" (status
// 400). The address lists are checked first, as for every mechanism.
func (a *Authenticator) ConfigureGSSAPIPrincipals(domain string, principals ...string) {
	d := &gssapiDomain{principals: make(map[string]struct{}, len(principals))}
	for _, p := range principals {
		d.principals[p] = struct{}{}
	}
	a.setGSSAPI(domain, d)
}

func (a *Authenticator) setGSSAPI(domain string, d *gssapiDomain) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gssapi == nil {
		a.gssapi = make(map[string]*gssapiDomain)
	}
	a.gssapi[domain] = d
}

// SetGSSAPIUserID sets the function that maps an accepted GSSAPI client's
// principal to its user id; nil restores the default, the principal
// itself (pyzmq's user id for GSSAPI). A panic, or a result longer than
// 255 bytes, makes the reply 500.
func (a *Authenticator) SetGSSAPIUserID(f func(principal string) string) {
	a.mu.Lock()
	a.gssapiUserID = f
	a.mu.Unlock()
}

// gssapiDomain is the GSSAPI configuration of one domain: every principal,
// or those listed. It is never modified once configured.
type gssapiDomain struct {
	allowAny   bool
	principals map[string]struct{}
}

// policy is what one request needs of the configuration, read under a.mu.
type policy struct {
	allow, deny []netip.Prefix
	plainAny    bool            // some domain has PLAIN users
	plain       *passwordSource // for the request's domain or "*"
	curve       *curveDomain    // for the request's domain or "*"
	curveUserID func(cert.PublicKey) string
	gssapi      *gssapiDomain // for the request's domain or "*"; nil: any
	gssapiID    func(string) string
	logger      *slog.Logger
	closed      bool // files are no longer followed
}

func (a *Authenticator) policyFor(domain string) policy {
	a.mu.RLock()
	defer a.mu.RUnlock()
	p := policy{
		allow:       a.allow,
		deny:        a.deny,
		plainAny:    len(a.plain) > 0,
		plain:       lookupDomain(a.plain, domain),
		curve:       lookupDomain(a.curve, domain),
		curveUserID: a.curveUserID,
		gssapi:      lookupDomain(a.gssapi, domain),
		gssapiID:    a.gssapiUserID,
		logger:      a.logger,
		closed:      a.closed,
	}
	if p.curveUserID == nil {
		p.curveUserID = DefaultCurveUserID
	}
	return p
}

// lookupDomain returns the configuration of domain, or else that of "*".
func lookupDomain[T any](m map[string]*T, domain string) *T {
	if v, ok := m[domain]; ok {
		return v
	}
	return m["*"]
}

// decision is the outcome of a request.
type decision struct {
	status StatusCode
	reason string
	userID string
	meta   zmtp.Metadata
	user   string // for the log: username, key or principal
	err    error  // for the log: the cause of a 500
}

func accept(userID string) decision {
	return decision{status: StatusOK, reason: TextOK, userID: userID, user: userID}
}

func refuse(reason string) decision {
	return decision{status: StatusAuthenticationError, reason: reason}
}

func internalError(err error) decision {
	return decision{status: StatusInternalError, reason: TextInternalError, err: err}
}

// Authenticate decides req as described on [Authenticator]. It always
// returns a valid reply and a nil error. ctx is not used: the decision does
// no I/O and does not block.
func (a *Authenticator) Authenticate(ctx context.Context, req *Request) (*Reply, error) {
	if req == nil {
		return &Reply{Version: Version, StatusCode: StatusAuthenticationError, StatusText: TextInvalidRequest}, nil
	}
	p := a.policyFor(req.Domain)
	var d decision
	func() {
		defer func() {
			if v := recover(); v != nil {
				d = internalError(fmt.Errorf("zap: authenticator panicked: %v", v))
			}
		}()
		d = p.decide(req)
	}()
	if p.logger != nil {
		p.log(ctx, req, d)
	}
	rep := &Reply{
		Version:    Version,
		RequestID:  clone(req.RequestID),
		StatusCode: d.status,
		StatusText: d.reason,
	}
	if d.status == StatusOK {
		rep.UserID, rep.Metadata = d.userID, d.meta
	}
	return rep, nil
}

func (p *policy) log(ctx context.Context, req *Request, d decision) {
	attrs := []slog.Attr{
		slog.String("domain", req.Domain),
		slog.String("address", req.Address),
		slog.String("mechanism", req.Mechanism),
		slog.String("user", d.user),
		slog.Int("status", int(d.status)),
		slog.String("reason", d.reason),
	}
	if d.err != nil {
		attrs = append(attrs, slog.Any("err", d.err))
		p.logger.LogAttrs(ctx, slog.LevelError, "zap: internal error", attrs...)
		return
	}
	p.logger.LogAttrs(ctx, slog.LevelDebug, "zap: decision", attrs...)
}

// decide runs the checks in pyzmq's order.
func (p *policy) decide(req *Request) decision {
	if req.Version != Version {
		return refuse(TextInvalidVersion)
	}
	allowed := false
	addr, addrOK := requestAddr(req.Address)
	switch {
	case len(p.allow) > 0:
		if !addrOK || !listContains(p.allow, addr) {
			return refuse(TextAddressNotAllowed)
		}
		allowed = true
	case len(p.deny) > 0:
		if addrOK && listContains(p.deny, addr) {
			return refuse(TextAddressDenied)
		}
		allowed = true
	}
	switch req.Mechanism {
	case "NULL":
		if len(req.Credentials) != 0 {
			return refuse(TextInvalidCredentials)
		}
		return accept(AnonymousUserID)
	case "PLAIN":
		return p.decidePlain(req)
	case "CURVE":
		return p.decideCurve(req)
	case "GSSAPI":
		return p.decideGSSAPI(req)
	}
	if allowed {
		return accept(AnonymousUserID)
	}
	return refuse(TextNoAccess)
}

func (p *policy) decidePlain(req *Request) decision {
	if len(req.Credentials) != 2 || len(req.Credentials[0]) > maxField || len(req.Credentials[1]) > maxField {
		return refuse(TextInvalidCredentials)
	}
	user, password := string(req.Credentials[0]), req.Credentials[1]
	d := func(reason string) decision {
		d := refuse(reason)
		d.user = user
		return d
	}
	if !p.plainAny {
		return d(TextNoPasswords)
	}
	if p.plain == nil {
		return d(TextInvalidDomain)
	}
	table, err := p.plain.current()
	if err == nil && p.closed && p.plain.path != "" {
		err = ErrClosed
	}
	if err != nil {
		d := internalError(err)
		d.user = user
		return d
	}
	known, ok := table.checkPassword(user, password)
	switch {
	case !known:
		return d(TextInvalidUsername)
	case !ok:
		return d(TextInvalidPassword)
	}
	return accept(user)
}

func (p *policy) decideCurve(req *Request) decision {
	if len(req.Credentials) != 1 || len(req.Credentials[0]) != cert.KeySize {
		return refuse(TextInvalidCredentials)
	}
	key := cert.PublicKey(req.Credentials[0])
	d := func(reason string) decision {
		d := refuse(reason)
		d.user = key.String()
		return d
	}
	if p.curve == nil {
		return d(TextUnknownDomain)
	}
	var meta zmtp.Metadata
	if !p.curve.allowAny {
		crt, found, err := p.curve.lookup(key)
		if err == nil && p.closed {
			err = ErrClosed
		}
		if err != nil {
			d := internalError(err)
			d.user = key.String()
			return d
		}
		if !found {
			return d(TextUnknownKey)
		}
		meta = certMetadata(crt, p.logger)
	}
	userID, err := callUserID("CURVE", p.curveUserID, key)
	if err != nil {
		d := internalError(err)
		d.user = key.String()
		return d
	}
	dec := accept(userID)
	dec.meta = meta
	return dec
}

// decideGSSAPI checks the principal against the domain's list, if it has
// one. The principal is not a secret: it is logged as the user.
func (p *policy) decideGSSAPI(req *Request) decision {
	if len(req.Credentials) != 1 || len(req.Credentials[0]) == 0 || len(req.Credentials[0]) > maxField {
		return refuse(TextInvalidCredentials)
	}
	principal := string(req.Credentials[0])
	if d := p.gssapi; d != nil && !d.allowAny {
		if _, ok := d.principals[principal]; !ok {
			d := refuse(TextUnknownPrincipal)
			d.user = principal
			return d
		}
	}
	userID := principal
	if p.gssapiID != nil {
		var err error
		if userID, err = callUserID("GSSAPI", p.gssapiID, principal); err != nil {
			d := internalError(err)
			d.user = principal
			return d
		}
	}
	dec := accept(userID)
	dec.user = principal
	return dec
}

// callUserID calls the user id hook of mech, turning a panic or an
// over-long result into an error.
func callUserID[T any](mech string, f func(T) string, v T) (id string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("zap: %s user id function panicked: %v", mech, r)
		}
	}()
	id = f(v)
	if len(id) > maxField {
		return "", fmt.Errorf("zap: %s user id function returned %d bytes, at most %d", mech, len(id), maxField)
	}
	return id, nil
}
