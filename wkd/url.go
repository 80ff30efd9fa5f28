package wkd

import (
	"crypto/sha1"
	"encoding/base32"
	"fmt"
	"net/url"
	"strings"
)

// zbase32 is z-base-32 (draft §3.1, after Zooko's "human-oriented base-32").
var zbase32 = base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)

// Hash is the WKD name of a local part (draft §3.1): its ASCII upper-case
// letters mapped to lower case, hashed with SHA-1, encoded in z-base-32 (32
// characters).
func Hash(localPart string) string {
	sum := sha1.Sum([]byte(asciiLower(localPart)))
	return zbase32.EncodeToString(sum[:])
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// split splits address at its last "@" and checks that the domain is a
// plain ASCII host name, so that it cannot change the URL built from it.
func split(address string) (local, domain string, err error) {
	i := strings.LastIndexByte(address, '@')
	if i <= 0 || i == len(address)-1 {
		return "", "", fmt.Errorf("wkd: %q is not an address", address)
	}
	local, domain = address[:i], asciiLower(address[i+1:])
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", "", fmt.Errorf("wkd: domain %q of %q is not a host name", domain, address)
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", "", fmt.Errorf("wkd: domain %q of %q is not an ASCII host name", domain, address)
			}
		}
	}
	return local, domain, nil
}

// AdvancedURL is the address's key URL under the advanced method (draft
// §3.1): https://openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH?l=LOCAL.
func AdvancedURL(address string) (string, error) {
	local, domain, err := split(address)
	if err != nil {
		return "", err
	}
	return keyURL("openpgpkey."+domain, "/.well-known/openpgpkey/"+domain+"/hu/", local), nil
}

// DirectURL is the address's key URL under the direct method (draft §3.1):
// https://DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL.
func DirectURL(address string) (string, error) {
	local, domain, err := split(address)
	if err != nil {
		return "", err
	}
	return keyURL(domain, "/.well-known/openpgpkey/hu/", local), nil
}

func keyURL(host, dir, local string) string {
	u := url.URL{Scheme: "https", Host: host, Path: dir + Hash(local), RawQuery: "l=" + url.QueryEscape(local)}
	return u.String()
}
