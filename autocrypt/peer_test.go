package autocrypt

import (
	"testing"
	"time"

	"umbra/pgp"
)

func TestUpdate(t *testing.T) {
	t.Parallel()
	day := func(n int) time.Time { return specTime.AddDate(0, 0, n) }
	h1, err := Parse(specExample, specTime)
	if err != nil {
		t.Fatal(err)
	}
	now := day(100)
	var p Peer

	// A message with a header sets everything.
	p = Update(p, h1, day(1), now)
	if !p.LastSeen.Equal(day(1)) || !p.AutocryptTimestamp.Equal(day(1)) || p.Key != h1.Key || p.PreferEncrypt != Mutual {
		t.Fatalf("after first header: %+v", p)
	}
	// A later message without a header only moves last_seen.
	p = Update(p, nil, day(5), now)
	if !p.LastSeen.Equal(day(5)) || !p.AutocryptTimestamp.Equal(day(1)) || p.Key == nil {
		t.Fatalf("after headerless message: %+v", p)
	}
	// An older message than the Autocrypt timestamp changes nothing.
	before := p
	p = Update(p, &Header{Addr: h1.Addr, Key: &pgp.PublicKey{}}, day(0), now)
	if p != before {
		t.Fatalf("older message changed state: %+v", p)
	}
	// A message between autocrypt_timestamp and last_seen with a header
	// replaces the key but leaves last_seen.
	h2 := &Header{Addr: h1.Addr, Key: h1.Key, PreferEncrypt: NoPreference}
	p = Update(p, h2, day(3), now)
	if !p.LastSeen.Equal(day(5)) || !p.AutocryptTimestamp.Equal(day(3)) || p.PreferEncrypt != NoPreference {
		t.Fatalf("after in-between header: %+v", p)
	}
	// A Date in the future counts as the time of receipt.
	p = Update(p, nil, day(1000), now)
	if !p.LastSeen.Equal(now) {
		t.Fatalf("future date: last seen %v, want %v", p.LastSeen, now)
	}
	// A missing Date too.
	p = Update(Peer{}, h1, time.Time{}, now)
	if !p.AutocryptTimestamp.Equal(now) {
		t.Fatalf("missing date: %+v", p)
	}
}

func TestRecommend(t *testing.T) {
	t.Parallel()
	h, err := Parse(specExample, specTime)
	if err != nil {
		t.Fatal(err)
	}
	now := specTime
	fresh := Peer{LastSeen: now, AutocryptTimestamp: now, Key: h.Key, PreferEncrypt: NoPreference}
	mutual := fresh
	mutual.PreferEncrypt = Mutual
	stale := mutual
	stale.AutocryptTimestamp = now.Add(-36 * 24 * time.Hour)
	notStale := mutual
	notStale.AutocryptTimestamp = now.Add(-34 * 24 * time.Hour)
	unknown := Peer{LastSeen: now}
	for _, c := range []struct {
		name  string
		self  PreferEncrypt
		peers []Peer
		reply bool
		now   time.Time
		want  Recommendation
	}{
		{"no recipients", Mutual, nil, false, now, Disable},
		{"no key", Mutual, []Peer{unknown}, false, now, Disable},
		{"no key, reply to encrypted", Mutual, []Peer{unknown}, true, now, Disable},
		{"key expired since", Mutual, []Peer{mutual}, false, now.AddDate(3, 0, 0), Disable},
		{"nopreference peer", Mutual, []Peer{fresh}, false, now, Available},
		{"nopreference self", NoPreference, []Peer{mutual}, false, now, Available},
		{"both mutual", Mutual, []Peer{mutual}, false, now, Encrypt},
		{"stale key", Mutual, []Peer{stale}, false, now, Discourage},
		{"34 days is not stale", Mutual, []Peer{notStale}, false, now, Encrypt},
		{"stale, reply to encrypted", Mutual, []Peer{stale}, true, now, Encrypt},
		{"available, reply to encrypted", NoPreference, []Peer{fresh}, true, now, Encrypt},
		{"all encrypt", Mutual, []Peer{mutual, mutual}, false, now, Encrypt},
		{"encrypt and available", Mutual, []Peer{mutual, fresh}, false, now, Available},
		{"encrypt and discourage", Mutual, []Peer{mutual, stale}, false, now, Discourage},
		{"any disable", Mutual, []Peer{mutual, stale, unknown}, false, now, Disable},
	} {
		if got := Recommend(c.self, c.peers, c.reply, c.now); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
