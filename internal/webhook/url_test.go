package webhook_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/todoapp/todo-api/internal/webhook"
)

func TestValidateURL(t *testing.T) {
	t.Parallel()
	long := "https://example.com/" + strings.Repeat("a", webhook.MaxURLLength)
	tests := []struct {
		name                    string
		url                     string
		allowHTTP, allowPrivate bool
		ok                      bool
	}{
		{name: "PublicHostname", url: "https://hooks.example.com/todo?x=1", ok: true},
		{name: "PublicHostnameWithPort", url: "https://hooks.example.com:8443/in", ok: true},
		{name: "PublicIP", url: "https://8.8.8.8/", ok: true},
		{name: "PublicIPv6", url: "https://[2606:4700::1111]/", ok: true},
		{name: "UppercaseScheme", url: "HTTPS://example.com/", ok: true},
		{name: "HTTPRefused", url: "http://example.com/"},
		{name: "HTTPAllowed", url: "http://example.com/", allowHTTP: true, ok: true},
		{name: "FTPRefused", url: "ftp://example.com/", allowHTTP: true},
		{name: "Relative", url: "/hooks"},
		{name: "SchemeRelative", url: "//example.com/hooks"},
		{name: "Opaque", url: "https:example.com"},
		{name: "NoHost", url: "https:///path"},
		{name: "PortOnly", url: "https://:443/"},
		{name: "Userinfo", url: "https://user:pass@example.com/"},
		{name: "UserOnly", url: "https://user@example.com/"},
		{name: "Fragment", url: "https://example.com/#x"},
		{name: "EmptyFragment", url: "https://example.com/#"},
		{name: "TooLong", url: long},
		{name: "Empty", url: ""},
		{name: "Spaces", url: "https://exa mple.com/"},
		{name: "Loopback", url: "https://127.0.0.1/"},
		{name: "LoopbackAllowed", url: "https://127.0.0.1:8443/", allowPrivate: true, ok: true},
		{name: "LoopbackV6", url: "https://[::1]/"},
		{name: "LoopbackV6Allowed", url: "https://[::1]:8443/", allowPrivate: true, ok: true},
		{name: "MappedLoopback", url: "https://[::ffff:127.0.0.1]/"},
		{name: "Metadata", url: "http://169.254.169.254/latest/meta-data/", allowHTTP: true},
		{name: "Private", url: "https://10.1.2.3/"},
		{name: "Unspecified", url: "https://0.0.0.0/"},
		{name: "DecimalIP", url: "https://2130706433/"},
		{name: "HexIP", url: "https://0x7f.1/"},
		{name: "ShortIP", url: "https://127.1/"},
		// Names only a private network knows are refused before any lookup;
		// other names are not resolved here: the dial-time check judges them.
		{name: "Localhost", url: "https://localhost/"},
		{name: "SingleLabel", url: "https://db/"},
		{name: "Internal", url: "https://metadata.google.internal/"},
		{name: "Local", url: "https://printer.local/"},
		{name: "LocalhostAllowedPrivate", url: "https://localhost/", allowPrivate: true, ok: true},
		{name: "NameNotResolved", url: "https://hooks.example.org/", ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.ValidateURL(tc.url, tc.allowHTTP, tc.allowPrivate)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, webhook.ErrInvalidURL)
		})
	}
}

func TestValidateURLNamesRefusedIP(t *testing.T) {
	t.Parallel()
	err := webhook.ValidateURL("https://[::1]:9/", false, false)
	assert.ErrorIs(t, err, webhook.ErrForbiddenAddress)
	assert.ErrorContains(t, err, "address ::1 is not public")
}
