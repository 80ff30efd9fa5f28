package autocrypt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"umbra/pgp"
)

// specExample is the example header of Autocrypt Level 1 (§2.1.1): Alice's
// Ed25519/Cv25519 key, made on 2019-01-22 and valid for two years.
const specExample = "addr=alice@autocrypt.example; prefer-encrypt=mutual; keydata=\r\n" +
	" mDMEXEcE6RYJKwYBBAHaRw8BAQdArjWwk3FAqyiFbFBKT4TzXcVBqPTB3gmzlC/Ub7O1u120F2F\r\n" +
	" saWNlQGF1dG9jcnlwdC5leGFtcGxliJYEExYIAD4WIQTrhbtfozp14V6UTmPyMVUMT0fjjgUCXE\r\n" +
	" cE6QIbAwUJA8JnAAULCQgHAgYVCgkICwIEFgIDAQIeAQIXgAAKCRDyMVUMT0fjjkqLAP9frlijw\r\n" +
	" BJvA+HFnqCZcYIVxlyXzS5Gi5gMTpp37K73jgD/VbKYhkwk9iu689OYH4K7q7LbmdeaJ+RX88Y/\r\n" +
	" ad9hZwy4OARcRwTpEgorBgEEAZdVAQUBAQdAQv8GIa2rSTzgqbXCpDDYMiKRVitCsy203x3sE9+\r\n" +
	" eviIDAQgHiHgEGBYIACAWIQTrhbtfozp14V6UTmPyMVUMT0fjjgUCXEcE6QIbDAAKCRDyMVUMT0\r\n" +
	" fjjlnQAQDFHUs6TIcxrNTtEZFjUFm1M0PJ1Dng/cDW4xN80fsn0QEA22Kr7VkCjeAEC08VSTeV+\r\n" +
	" QFsmz55/lntWkwYWhmvOgE="

const specFingerprint = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"

// specTime is a moment the example key was valid.
var specTime = time.Date(2019, 2, 1, 0, 0, 0, 0, time.UTC)

func TestParseSpecExample(t *testing.T) {
	t.Parallel()
	h, err := Parse(specExample, specTime)
	if err != nil {
		t.Fatal(err)
	}
	if h.Addr != "alice@autocrypt.example" || h.PreferEncrypt != Mutual || h.Key.Fingerprint() != specFingerprint {
		t.Errorf("parsed %s %v %s", h.Addr, h.PreferEncrypt, h.Key.Fingerprint())
	}
	// Unfolded, without prefer-encrypt, with a non-critical attribute.
	flat := strings.Join(strings.Fields(strings.Replace(specExample, "prefer-encrypt=mutual; ", "_comment=hi; ", 1)), " ")
	flat = strings.Replace(flat, "keydata= ", "keydata=", 1)
	h, err = Parse(flat, specTime)
	if err != nil {
		t.Fatal(err)
	}
	if h.PreferEncrypt != NoPreference {
		t.Errorf("prefer-encrypt %v, want nopreference", h.PreferEncrypt)
	}
	if _, err := Parse(specExample, specTime.AddDate(3, 0, 0)); !errors.Is(err, pgp.ErrKeyExpired) {
		t.Errorf("expired key: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	keydata := specExample[strings.Index(specExample, "keydata="):]
	cases := map[string]string{
		"no addr":            "prefer-encrypt=mutual; " + keydata,
		"no keydata":         "addr=alice@autocrypt.example; prefer-encrypt=mutual",
		"critical attribute": "addr=alice@autocrypt.example; color=blue; " + keydata,
		"repeated addr":      "addr=alice@autocrypt.example; addr=eve@evil.example; " + keydata,
		"display name":       "addr=Alice <alice@autocrypt.example>; " + keydata,
		"not an address":     "addr=alice; " + keydata,
		"no value":           "addr; " + keydata,
		"bad base64":         "addr=alice@autocrypt.example; keydata=!!!!",
		"not a key":          "addr=alice@autocrypt.example; keydata=AAo=",
		"oversize":           "addr=alice@autocrypt.example; _pad=" + strings.Repeat("x", MaxHeaderSize) + "; " + keydata,
		"empty":              "",
	}
	for name, v := range cases {
		if h, err := Parse(v, specTime); err == nil {
			t.Errorf("%s: accepted: %+v", name, h)
		}
	}
	if _, err := Parse(cases["critical attribute"], specTime); !errors.Is(err, ErrCritical) {
		t.Errorf("critical attribute: %v", err)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Now()
	key, err := pgp.GenerateKey("bob@b.test", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, pe := range []PreferEncrypt{Mutual, NoPreference} {
		v := Format(&Header{Addr: "bob@b.test", PreferEncrypt: pe, Key: key.Public()})
		for _, line := range strings.Split("Autocrypt: "+v, "\r\n") {
			if len(line) > 78 {
				t.Errorf("line of %d characters: %q", len(line), line)
			}
		}
		h, err := Parse(v, now)
		if err != nil {
			t.Fatal(err)
		}
		if h.Addr != "bob@b.test" || h.PreferEncrypt != pe || h.Key.Fingerprint() != key.Fingerprint() {
			t.Errorf("round trip gave %s %v %s", h.Addr, h.PreferEncrypt, h.Key.Fingerprint())
		}
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	other := strings.Replace(specExample, "prefer-encrypt=mutual", "prefer-encrypt=nopreference", 1)
	invalid := "addr=alice@autocrypt.example; keydata=AAo="
	for _, c := range []struct {
		name    string
		values  []string
		from    string
		found   bool
		wantErr bool
	}{
		{"one", []string{specExample}, "Alice@Autocrypt.Example", true, false},
		{"one valid, one invalid", []string{invalid, specExample}, "alice@autocrypt.example", true, false},
		{"two valid", []string{specExample, other}, "alice@autocrypt.example", false, true},
		{"not the sender", []string{specExample}, "bob@autocrypt.example", false, true},
		{"none", nil, "alice@autocrypt.example", false, false},
	} {
		h, err := Find(c.values, c.from, specTime)
		if (h != nil) != c.found || (err != nil) != c.wantErr {
			t.Errorf("%s: header %v, error %v", c.name, h != nil, err)
		}
	}
}
