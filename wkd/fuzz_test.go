package wkd

import (
	"testing"
	"time"
)

func FuzzWKDResponse(f *testing.F) {
	now := time.Now()
	k := mustKey(f, joe)
	f.Add(k.Bytes())
	f.Add(k.Armored())
	other := mustKey(f, "other@example.com").Bytes()
	f.Add(other)
	f.Add(append(other, k.Bytes()...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		key, err := parseResponse(body, joe, now)
		if err == nil && !key.HasAddress(joe, now) {
			t.Fatalf("accepted key %s without the address", key.Fingerprint())
		}
	})
}
