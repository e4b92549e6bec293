package zap

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ErrAllowAndDeny is wrapped by the error [Authenticator.Allow] returns when
// a deny list is set, and [Authenticator.Deny] when an allow list is set. As
// in pyzmq (which raises ValueError), the two lists are mutually exclusive.
var ErrAllowAndDeny = errors.New("zap: allow and deny lists are mutually exclusive")

// parseAddrList parses addresses and CIDR ranges for Allow and Deny. It
// returns an error naming the first entry that is neither.
func parseAddrList(addrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(addrs))
	for _, s := range addrs {
		p, err := parseAddrOrPrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parseAddrOrPrefix parses an IPv4 or IPv6 address (a zone is dropped, an
// IPv4-mapped IPv6 address becomes the IPv4 address) as a single-address
// prefix, or a CIDR range, whose host bits are cleared.
func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("zap: invalid address range %q", s)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8.
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("zap: invalid address %q", s)
	}
	a = normalizeAddr(a)
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// normalizeAddr drops the zone and unmaps an IPv4-mapped IPv6 address, so
// that "::ffff:1.2.3.4" and "1.2.3.4" are the same address. netip already
// makes "2001:DB8:0::1" and "2001:db8::1" equal.
func normalizeAddr(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// requestAddr parses the address of a ZAP request. libzmq sends a bare
// numeric host; an address with a port ("1.2.3.4:5", "[::1]:5") is taken
// too. ok is false for anything else, such as an IPC peer.
func requestAddr(s string) (a netip.Addr, ok bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return normalizeAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddr(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// listContains reports whether a is in one of the ranges of list. An IPv4
// address is also tried in its IPv4-mapped IPv6 form, so that an IPv6 range
// such as ::/0 or ::ffff:0:0/96 covers it.
func listContains(list []netip.Prefix, a netip.Addr) bool {
	var mapped netip.Addr
	if a.Is4() {
		mapped = netip.AddrFrom16(a.As16())
	}
	for _, p := range list {
		if p.Contains(a) || (mapped.IsValid() && p.Contains(mapped)) {
			return true
		}
	}
	return false
}

// mergeAddrList returns a new list holding old and then the entries of add
// that old lacks. old is not modified: readers may hold it.
func mergeAddrList(old, add []netip.Prefix) []netip.Prefix {
	out := slices.Clip(slices.Clone(old))
	for _, p := range add {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
