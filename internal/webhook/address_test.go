package webhook_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/todoapp/todo-api/internal/webhook"
)

func TestIsPublic(t *testing.T) {
	t.Parallel()
	public := []string{
		"8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "100.128.0.0",
		"172.15.255.255", "172.32.0.0", "192.167.255.255", "198.17.255.255", "198.20.0.0",
		"223.255.255.255",
		"2606:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1",
		"::ffff:8.8.8.8",   // IPv4-mapped public
		"64:ff9b::808:808", // NAT64 of 8.8.8.8
		"2002:808:808::1",  // 6to4 of 8.8.8.8
		"2001:200::1",      // just past the IETF block 2001::/23
	}
	refused := []string{
		// IPv4
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255",
		"100.64.0.1", "100.127.255.255", "100.100.100.200",
		"127.0.0.1", "127.1.2.3", "169.254.0.1", "169.254.169.254",
		"172.16.0.1", "172.31.255.255", "192.0.0.1", "192.0.2.1", "192.88.99.1",
		"192.168.0.1", "198.18.0.1", "198.19.255.255", "198.51.100.1", "203.0.113.1",
		"224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		// IPv6
		"::", "::1", "::127.0.0.1", "100::1", "fc00::1", "fd00:ec2::254", "fe80::1", "fe80::1%eth0",
		"fec0::1", "ff02::1", "ff0e::1", "2001:db8::1", "3fff::1", "2001::1", "64:ff9b:1::a00:1",
		// IPv4-mapped forms
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
		"::ffff:100.100.100.200", "::ffff:192.168.1.1", "::ffff:255.255.255.255",
		// NAT64 and 6to4 carrying a refused IPv4 address
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1",
		"2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:c0a8:101::1",
	}
	for _, s := range public {
		assert.True(t, webhook.IsPublic(netip.MustParseAddr(s)), "%s should be public", s)
	}
	for _, s := range refused {
		assert.False(t, webhook.IsPublic(netip.MustParseAddr(s)), "%s should be refused", s)
	}
	assert.False(t, webhook.IsPublic(netip.Addr{}), "the zero Addr")
}
