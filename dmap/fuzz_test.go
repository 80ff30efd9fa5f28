package dmap

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// requestDecoders are the decoders of every JSON request body, in a fixed
// order: the fuzzer picks one with its first argument.
var requestDecoders = []struct {
	name   string
	decode func([]byte) (any, error)
}{
	{"register", func(b []byte) (any, error) { return decodeRegister(b) }},
	{"challenge", func(b []byte) (any, error) { return decodeChallenge(b) }},
	{"login", func(b []byte) (any, error) { return decodeLogin(b) }},
	{"refresh", func(b []byte) (any, error) { return decodeRefresh(b) }},
	{"enroll", func(b []byte) (any, error) { return decodeEnroll(b) }},
	{"keybackup/challenge", func(b []byte) (any, error) { return decodeBackupChallenge(b) }},
	{"keybackup/fetch", func(b []byte) (any, error) { return decodeBackupFetch(b) }},
	{"keybackup", func(b []byte) (any, error) { return decodeKeyBackup(b) }},
	{"rename", func(b []byte) (any, error) { return decodeRename(b) }},
	{"rotate", func(b []byte) (any, error) { return decodeRotate(b) }},
}

// validBodies returns one well-formed body per decoder, for the seeds.
func validBodies(t testing.TB) [][]byte {
	key := b64.EncodeToString(pubOf(sigKey("fuzz device")))
	ch := b64.EncodeToString(bytes.Repeat([]byte{1}, 32))
	sig := b64.EncodeToString(bytes.Repeat([]byte{2}, 64))
	req := signingRequestFor(t, "alice@a.test", sigKey("fuzz signing"), sigKey("fuzz recovery"), nil)
	backup := backupToWire(testBackup())
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return [][]byte{
		enc(registerRequest{Address: "alice@a.test", Invite: "ABCD-EFGH", Mode: "cautious", SigningRequest: b64.EncodeToString(req.Bytes()), DeviceKey: key, DeviceName: "laptop", KeyBackup: backup}),
		enc(challengeRequest{Address: "alice@a.test", Purpose: "login", Key: key}),
		enc(loginRequest{Address: "alice@a.test", DeviceKey: key, Challenge: ch, Signature: sig}),
		enc(refreshRequest{RefreshToken: ch}),
		enc(enrollRequest{Address: "alice@a.test", DeviceKey: key, DeviceName: "phone", Challenge: ch, Signer: "recovery", Signature: sig}),
		enc(backupChallengeRequest{Address: "alice@a.test"}),
		enc(backupFetchRequest{Address: "alice@a.test", Challenge: ch, Signature: sig}),
		enc(backup),
		enc(renameRequest{Name: "work laptop"}),
		enc(rotateRequest{SigningRequest: b64.EncodeToString(req.Bytes())}),
	}
}

// FuzzDecodeRequests: every request decoder either accepts its input with
// the invariants its handler relies on, or refuses it with a 400 carrying
// one of the request codes; none panics.
func FuzzDecodeRequests(f *testing.F) {
	for i, b := range validBodies(f) {
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
		f.Add(uint8(i), append(bytes.Clone(b), '}'))
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"address":null}`, `{"key_backup":{"params":{"time":99999999999}}}`,
		`{"a":1,"a":2}`, `{"ADDRESS":"x"}`, "{\"address\":\"\xff\"}", `{"name":"\u0000"}`} {
		for i := range requestDecoders {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		d := requestDecoders[int(which)%len(requestDecoders)]
		v, err := d.decode(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("%s: error %v is not a 400 *Error", d.name, err)
			}
			switch e.Code {
			case CodeBadJSON, CodeUnknownField, CodeBadField, CodeBadSignet:
			default:
				t.Fatalf("%s: code %q", d.name, e.Code)
			}
			return
		}
		switch x := v.(type) {
		case Registration:
			if x.Request.Address != x.Address || x.Device.ID != DeviceID(x.Device.Key) || (x.Mode == ModeCautious) != (x.Backup != nil) {
				t.Fatalf("register accepted an inconsistent request: %+v", x)
			}
		case proof:
			if len(x.signature) != 64 || (x.key != nil && len(x.key) != 32) {
				t.Fatalf("%s: signature of %d bytes, key of %d", d.name, len(x.signature), len(x.key))
			}
		case KeyBackup:
			if CheckBackupParams(x.Params) != nil || len(x.AccessKey) != 32 || len(x.Salt) < MinBackupSalt {
				t.Fatalf("weak or malformed key backup accepted: %+v", x)
			}
		}
	})
}

// FuzzDecodeFrames: a history body either fails or re-encodes to itself.
func FuzzDecodeFrames(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeFrames([][]byte{[]byte("a"), []byte("bc")}))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 1, 0, 1, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Add(bytes.Repeat([]byte{0, 0, 0, 1, 'x'}, MaxHistoryPage+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := decodeFrames(data)
		if err != nil {
			return
		}
		if len(list) > MaxHistoryPage {
			t.Fatalf("%d frames", len(list))
		}
		if !bytes.Equal(encodeFrames(list), data) {
			t.Fatal("frames do not re-encode to the input")
		}
	})
}

// FuzzRequestParams: the Range, If-Match and changes-query parsers never
// panic and keep their results within bounds.
func FuzzRequestParams(f *testing.F) {
	for _, s := range []struct {
		rng     string
		size    int64
		ifMatch string
		query   string
	}{
		{"bytes=0-9", 10, `"3"`, "since=5&limit=10&wait=30s"},
		{"bytes=-5", 3, "0", "wait=99999999999999999999"},
		{"bytes=5-", 0, "W/\"1\"", "since=%zz"},
		{"bytes=1-2,3-4", 100, `""`, "since=1&since=2"},
		{"bytes=9223372036854775807-", 1, "9223372036854775808", "limit=100000"},
	} {
		f.Add(s.rng, s.size, s.ifMatch, s.query)
	}
	f.Fuzz(func(t *testing.T, rng string, size int64, ifMatch, query string) {
		if size < 0 {
			size = -(size + 1)
		}
		r := parseRange(rng, size)
		if r.partial && (r.unsatisfiable || r.first < 0 || r.first > r.last || r.last >= size) {
			t.Fatalf("%q on %d bytes: %+v", rng, size, r)
		}
		if n, err := parseIfMatch(ifMatch, true); err == nil && n < 0 {
			t.Fatalf("If-Match %q gave %d", ifMatch, n)
		}
		q, err := parseChangesQuery(query, time.Minute)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadField {
				t.Fatalf("query %q: %v", query, err)
			}
			return
		}
		if q.since < 0 || q.limit < 1 || q.limit > MaxPage || q.wait < 0 || q.wait > time.Minute {
			t.Fatalf("query %q: %+v", query, q)
		}
	})
}

// FuzzParseChanges feeds arbitrary answers to the client's reading of
// the change feed (the server's word): no panic, and an accepted page is
// in order above since, with next and head where the spec puts them.
func FuzzParseChanges(f *testing.F) {
	f.Add([]byte(`{"changes":[{"id":"mail-7","kind":"mail","revision":1,"seq":42,"deleted":false,"size":51200}],"next":42,"more":false,"head":42}`), int64(0))
	f.Add([]byte(`{"changes":[],"next":9,"more":false,"head":9}`), int64(9))
	f.Add([]byte(`{"changes":[{"id":"a","seq":3},{"id":"b","seq":2}],"next":3,"head":3}`), int64(1))
	f.Add([]byte(`{"changes":[{"id":"a","seq":3}],"next":3,"head":2}`), int64(1))
	f.Add([]byte(`{"changes":null`), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, since int64) {
		p, err := parseChanges(data, since)
		if err != nil {
			return
		}
		last := since
		for _, ch := range p.Changes {
			if ch.Seq <= last || CheckDocID(ch.ID) != nil {
				t.Fatalf("accepted an entry out of order or with a bad id: %+v", ch)
			}
			last = ch.Seq
		}
		if p.Next < since || len(p.Changes) > 0 && p.Head < last {
			t.Fatalf("accepted next %d / head %d with since %d, last change %d", p.Next, p.Head, since, last)
		}
	})
}

func TestParseChanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		answer string
		since  int64
		ok     bool
	}{
		{`{"changes":[{"id":"a","seq":3},{"id":"b","seq":5}],"next":5,"more":false,"head":8}`, 1, true},
		{`{"changes":[],"next":9,"more":false,"head":4}`, 9, true}, // a provider behind the device: said, not refused
		{`{"changes":[{"id":"a","seq":3}],"next":3,"head":2}`, 1, false},
		{`{"changes":[{"id":"a","seq":3},{"id":"b","seq":3}],"next":3,"head":3}`, 1, false},
		{`{"changes":[{"id":"a","seq":1}],"next":1,"head":1}`, 1, false},
		{`{"changes":[{"id":"","seq":2}],"next":2,"head":2}`, 1, false},
		{`{"changes":[],"next":0,"head":0}`, 5, false},
		{`[1,2]`, 0, false},
	} {
		if _, err := parseChanges([]byte(tc.answer), tc.since); (err == nil) != tc.ok {
			t.Errorf("parseChanges(%s, since %d): %v, want ok=%v", tc.answer, tc.since, err, tc.ok)
		}
	}
}
