package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// DefaultTimeout bounds one delivery, from dial to the last byte read.
const DefaultTimeout = 10 * time.Second

// Options configure NewClient.
type Options struct {
	// AllowPrivate lets deliveries reach addresses IsPublic refuses
	// (loopback, private networks...): for development and tests only.
	AllowPrivate bool
	// Timeout bounds one delivery; zero means DefaultTimeout.
	Timeout time.Duration
	// RootCAs replaces the system roots (tests trust their own server
	// with it); nil means the system roots.
	RootCAs *x509.CertPool
}

// NewClient returns the client deliveries are sent with. Make one and share
// it: its idle pool is what saves a TLS handshake per delivery.
//
// Every address it dials is checked after DNS, in the dialer's Control
// hook, so a name that resolved to a public address at registration and to
// 127.0.0.1 now (DNS rebinding) is refused all the same; the error is an
// *AddressError (errors.Is(err, ErrForbiddenAddress)).
//
// It follows no redirects (a 3xx is the answer, and the delivery failed):
// a redirect would send the signed body to a URL nobody registered. It
// uses no proxy from the environment either, since a proxy would dial for
// us and the check would see only the proxy's address.
//
// Keep-alives stay on with a small pool (two idle connections per host,
// dropped after 30 s): deliveries to one endpoint come in bursts, and a
// pooled connection reaches an address that passed the check when it was
// dialled. The pool is bounded in total so that many endpoints cannot
// hold many sockets.
func NewClient(opts Options) *http.Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: opts.Timeout}
	if !opts.AllowPrivate {
		dialer.Control = refuseNonPublic
	}
	return &http.Client{
		Timeout: opts.Timeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    opts.Timeout,
			MaxIdleConns:           64,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        30 * time.Second,
			MaxResponseHeaderBytes: maxResponseBytes,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refuseNonPublic is a net.Dialer Control hook: address is the resolved
// "ip:port" about to be connected to.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed; the text stays generic as address may be anything.
		return &AddressError{}
	}
	if a := ap.Addr(); !IsPublic(a) {
		return &AddressError{Addr: a.WithZone("")}
	}
	return nil
}
