package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// MaxURLLength is the longest endpoint URL accepted.
const MaxURLLength = 2048

// ErrInvalidURL is what errors.Is finds in every error of ValidateURL; the
// API answers it with 400 INVALID_WEBHOOK_URL.
var ErrInvalidURL = errors.New("invalid webhook URL")

// ValidateURL checks an endpoint URL at registration: absolute https (or
// http when allowHTTP), a host, no userinfo, no fragment, at most
// MaxURLLength bytes. A host written as an IP literal must be public unless
// allowPrivate. Host names are not resolved here: what a name resolves to
// can change after registration, so the check that counts is the one at
// dial time (NewClient).
func ValidateURL(raw string, allowHTTP, allowPrivate bool) error {
	if len(raw) > MaxURLLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: does not parse", ErrInvalidURL)
	}
	schemeOK := u.Scheme == "https" || (allowHTTP && u.Scheme == "http")
	switch {
	case !schemeOK:
		return fmt.Errorf("%w: scheme must be https", ErrInvalidURL)
	case u.Opaque != "" || u.Host == "":
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	case u.User != nil:
		return fmt.Errorf("%w: userinfo not allowed", ErrInvalidURL)
	case strings.Contains(raw, "#"):
		return fmt.Errorf("%w: fragment not allowed", ErrInvalidURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !allowPrivate && !IsPublic(a) {
			return fmt.Errorf("%w: %w", ErrInvalidURL, &AddressError{Addr: a.WithZone("")})
		}
		return nil
	}
	// Browsers read a host whose last label is a number (2130706433,
	// 0x7f.1, 127.1) as IPv4, and so may a C resolver; no public DNS
	// name ends that way.
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if last := labels[len(labels)-1]; isNumeric(last) {
		return fmt.Errorf("%w: host looks like a shortened IP address", ErrInvalidURL)
	}
	// Names that only a private network resolves: refused at once (the
	// dial-time check would refuse their addresses anyway; this says so
	// before any lookup, and keeps the service's own DNS from being probed).
	if !allowPrivate && (len(labels) < 2 || privateName(labels[len(labels)-1])) {
		return fmt.Errorf("%w: not a public host name", ErrInvalidURL)
	}
	return nil
}

// privateName reports whether tld is a suffix reserved for private names
// (RFC 6761, 6762, 8375 and common practice).
func privateName(tld string) bool {
	switch strings.ToLower(tld) {
	case "localhost", "local", "internal", "lan", "home", "corp", "intranet", "private", "localdomain", "test", "invalid":
		return true
	}
	return false
}

// isNumeric reports whether s is a decimal, octal or 0x-hex number.
func isNumeric(s string) bool {
	if t, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		return strings.Trim(t, "0123456789abcdef") == ""
	}
	return s != "" && strings.Trim(s, "0123456789") == ""
}
