package auth

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestNormaliseEmail(t *testing.T) {
	for in, want := range map[string]string{
		"a@example.com":                                    "a@example.com",
		"  Ada@Example.COM ":                               "ada@example.com",
		"first.last+tag@sub.example.co.uk":                 "first.last+tag@sub.example.co.uk",
		"x@xn--80ak6aa92e.com":                             "x@\u0430\u0440\u0440\u04cf\u0435.com", // the Unicode form of the same domain
		"a@B\u00dcCHER.de":                                 "a@b\u00fccher.de",
		"a@xn--bcher-kva.de":                               "a@b\u00fccher.de",
		"a@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com": "a@example.com",         // full-width letters
		"Jose\u0301@example.com":                           "jos\u00e9@example.com", // NFC
		"jos\u00e9@example.com":                            "jos\u00e9@example.com",
	} {
		got, ok := NormaliseEmail(in)
		assert.True(t, ok, "%q", in)
		assert.Equal(t, want, got, "%q", in)
	}
	for _, in := range []string{"", "a", "a@b", "a@b.", "a@.com", "a@-x.com", "a b@c.com", "<a@b.com>", "a@[127.0.0.1]",
		"a\u200b@example.com", "a@exam\u200bple.com", "\u200ba@example.com", // zero-width space
		"a\u200d@example.com", "a\u2060@example.com", "a\ufeff@example.com", // joiner, word joiner, BOM
		"a\u00ad@example.com", "a\u034f@example.com", "a\ufe0f@example.com", // soft hyphen, CGJ, variation selector
		"a\u3164@example.com", "a\u2800@example.com", "a\u00a0b@example.com", // Hangul filler, braille blank, NBSP
		"a\u202e@example.com", "a\x00@example.com", "a\xffb@example.com", "a\ue000@example.com", // bidi override, NUL, bad UTF-8, private use
		strings.Repeat("a", 65) + "@example.com",
		strings.Repeat("a", 60) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com",
	} {
		_, ok := NormaliseEmail(in)
		assert.False(t, ok, "%q", in)
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"a@example.com", " A@Example.COM ", "a@b", "\"a b\"@example.com", "@", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormaliseEmail(s)
		if !ok {
			return
		}
		again, ok := NormaliseEmail(n)
		assert.True(t, ok, "a stored form is accepted: %q", n)
		assert.Equal(t, n, again, "normalising twice changes nothing")
		assert.Contains(t, n, "@")
		assert.True(t, utf8.ValidString(n))
		for _, r := range n {
			assert.True(t, visible(r), "%q in %q", r, n)
		}
	})
}
