// Package webhook holds the delivery side of webhooks that needs no database:
// checking an endpoint URL at registration, an HTTP client that refuses to
// dial anything but public addresses, signing and sending one delivery
// (Standard Webhooks headers), and the retry schedule. The signature is the
// Standard Webhooks reference library's (standard-webhooks/libraries), so
// the bytes signed, the secret's encoding and the header format are exactly
// what receivers' libraries verify (the tests verify with it too).
package webhook

import (
	"errors"
	"net/netip"
)

// ErrForbiddenAddress is what errors.Is finds when a URL names, or a dial
// reaches, an address that is not public (see IsPublic).
var ErrForbiddenAddress = errors.New("address is not public")

// AddressError is a refused address. Its text names the IP (never the port,
// the URL or a resolver) so that it can be shown to the endpoint's owner.
type AddressError struct {
	Addr netip.Addr
}

func (e *AddressError) Error() string { return "address " + e.Addr.String() + " is not public" }

// Is makes errors.Is(err, ErrForbiddenAddress) true.
func (e *AddressError) Is(target error) bool { return target == ErrForbiddenAddress }

// Ranges no delivery may reach. Cloud metadata endpoints fall inside them:
// 169.254.169.254 (link-local), 100.100.100.200 (Alibaba, inside CGNAT) and
// fd00:ec2::254 (AWS, inside unique-local).
var (
	notPublic4 = prefixes(
		"0.0.0.0/8",       // "this network", including 0.0.0.0
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation (TEST-NET-1)
		"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation (TEST-NET-2)
		"203.0.113.0/24",  // documentation (TEST-NET-3)
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, including 255.255.255.255
	)
	// IPv6 outside 2000::/3 (global unicast) is refused before this list is
	// read: that covers ::, ::1, IPv4-compatible ::/96, discard 100::/64,
	// unique-local fc00::/7, link-local fe80::/10 and multicast ff00::/8.
	notPublic6 = prefixes(
		"2001::/23",     // IETF protocol assignments, including Teredo 2001::/32
		"2001:db8::/32", // documentation
		"3fff::/20",     // documentation
	)
	global6   = netip.MustParsePrefix("2000::/3")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// IsPublic reports whether a delivery may connect to a. IPv4-mapped IPv6
// (::ffff:127.0.0.1) is judged as the IPv4 address it carries, and so are
// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses: a DNS64 resolver
// hands out the NAT64 form for every IPv4-only host, so refusing NAT64 whole
// would refuse public hosts too.
func IsPublic(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return false
	case a.Is4():
		return !inAny(a, notPublic4)
	case nat64.Contains(a):
		b := a.As16()
		return IsPublic(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		b := a.As16()
		return IsPublic(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return global6.Contains(a) && !inAny(a, notPublic6)
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}
