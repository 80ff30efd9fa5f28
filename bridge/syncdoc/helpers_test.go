package syncdoc

import (
	"bytes"
	"testing"
	"time"
)

// testKey is a fixed message key for the tests.
var testKey = MailKey("mail-test")

// testSealer returns a Sealer over a fixed storage key with byte b.
func testSealer(t testing.TB, b byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sampleContent is a small but complete Content.
func sampleContent(mime []byte) *Content {
	return &Content{
		Key:          testKey,
		InternalDate: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("", -(7*60+30)*60)),
		Security:     "encrypted; signed=alice@a.test; key=chained",
		MIME:         mime,
	}
}

// sampleMeta is a Meta with every field set.
func sampleMeta() *Meta {
	return &Meta{Key: testKey, Mailbox: "Work/Ünïcode", Flags: []string{`\Seen`, "$Label1", `\Flagged`},
		Updated: 1767319500000, Device: "kt1AynM0cD_WjOG_"}
}

// sampleFolders is a Folders with a live and a deleted entry.
func sampleFolders() *Folders {
	return &Folders{Entries: []Folder{
		{Name: "Work", Updated: 5, Device: "a"},
		{Name: "Old", Deleted: true, Updated: 9, Device: "b"},
	}}
}

func mustMarshal(t testing.TB, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
