package autocrypt

import (
	"testing"
	"time"

	"umbra/pgp"
)

func FuzzParseAutocrypt(f *testing.F) {
	now := time.Now()
	key, err := pgp.GenerateKey("bob@b.test", specTime)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(Format(&Header{Addr: "bob@b.test", PreferEncrypt: Mutual, Key: key.Public()}))
	f.Add(Format(&Header{Addr: "bob@b.test", Key: key.Public()}))
	f.Add(specExample)
	f.Add("addr=alice@autocrypt.example; _x=y; keydata=AAo=")
	f.Fuzz(func(t *testing.T, value string) {
		h, err := Parse(value, now)
		if err != nil {
			return
		}
		again, err := Parse(Format(h), now)
		if err != nil {
			t.Fatalf("Format of an accepted header does not parse: %v", err)
		}
		if again.Addr != h.Addr || again.PreferEncrypt != h.PreferEncrypt || again.Key.Fingerprint() != h.Key.Fingerprint() {
			t.Fatalf("round trip changed %+v to %+v", h, again)
		}
	})
}
