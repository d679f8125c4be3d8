package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

const (
	maxEmailLen      = 254 // bytes of the address with its domain in ASCII (RFC 5321)
	maxEmailLocalLen = 64
)

// domains maps a domain name the way browsers and resolvers do (UTS #46:
// case folding, full-width and compatibility forms to their plain letters,
// NFC), checks the IDNA rules (hyphens, joiners, bidi) and DNS lengths.
var domains = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.VerifyDNSLength(true),
	idna.Transitional(false),
)

// NormaliseEmail returns the stored form of an email address, and false when
// it is not one this service accepts:
//   - surrounding white space goes;
//   - any invisible character inside (white space, controls, format
//     characters such as U+200B ZERO WIDTH SPACE, default-ignorable code
//     points such as variation selectors and Hangul fillers, unassigned or
//     private-use code points, invalid UTF-8) is refused rather than
//     removed, so no two addresses that look alike can both register;
//   - the local part is put in Unicode NFC and lower-cased;
//   - the domain is mapped through IDNA (UTS #46) and kept in its Unicode
//     form: EXAMPLE.com, ｅｘａｍｐｌｅ.com and example.com are one domain,
//     and so are bücher.de and xn--bcher-kva.de;
//   - the result is a plain address local@domain.tld, no display name, no
//     quoted local part, no IP literal, at most 254 bytes with the domain in
//     ASCII and 64 bytes before the @.
//
// Normalising a stored form again gives it back unchanged.
func NormaliseEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if !visible(r) {
			return "", false
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", false
	}
	local := strings.ToLower(norm.NFC.String(s[:at]))
	ascii, err := domains.ToASCII(s[at+1:])
	if err != nil {
		return "", false
	}
	domain, err := domains.ToUnicode(ascii)
	if err != nil {
		return "", false
	}
	if len(local)+1+len(ascii) > maxEmailLen || !validAddress(local, ascii) {
		return "", false
	}
	stored := local + "@" + domain
	if a, err := mail.ParseAddress(stored); err != nil || a.Address != stored {
		return "", false // the response's `format: email` must hold for it too
	}
	return stored, true
}

// visible reports whether r may appear in an email address: a letter, mark,
// number, punctuation or symbol that shows as something.
func visible(r rune) bool {
	switch {
	case r == utf8.RuneError, // also what invalid UTF-8 decodes to
		!unicode.IsGraphic(r), // controls, format, private use, unassigned
		unicode.IsSpace(r),
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r),
		unicode.Is(unicode.Variation_Selector, r),
		r == '\u2800': // BRAILLE PATTERN BLANK: a symbol that draws nothing
		return false
	}
	return true
}

// validAddress checks the shape of local@domain (domain in ASCII).
func validAddress(local, domain string) bool {
	if local == "" || len(local) > maxEmailLocalLen || strings.HasPrefix(domain, "[") {
		return false
	}
	s := local + "@" + domain
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}
