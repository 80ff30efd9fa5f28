package dmime

import (
	"bytes"
	"testing"
)

const simpleMIME = "From: Alice <alice@a.test>\r\n" +
	"To: Bob <bob@b.test>\r\n" +
	"Subject: lunch\r\n" +
	"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
	"Message-ID: <1@a.test>\r\n" +
	"X-Mailer: umbra\r\n" +
	"\r\n" +
	"Noon at the usual place?\r\n"

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	got, o, err := w.openRecipient(msg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if string(got) != simpleMIME {
		t.Fatalf("round trip:\n got %q\nwant %q", got, simpleMIME)
	}
	if !o.AuthorVerified || !o.OriginVerified {
		t.Fatalf("verified author=%v origin=%v", o.AuthorVerified, o.OriginVerified)
	}
	oi, err := o.Origin()
	if err != nil || oi.Author != "alice@a.test" || oi.DestinationDomain != "b.test" || !oi.AuthorFingerprint.Equal(w.author.fp) {
		t.Fatalf("origin info %+v, %v", oi, err)
	}
	di, err := o.Destination()
	if err != nil || di.Recipient != "bob@b.test" || di.OriginDomain != "a.test" || !di.OriginFingerprint.Equal(w.origin.fp) {
		t.Fatalf("destination info %+v, %v", di, err)
	}
	id, err := MessageID(bytes.NewReader(msg))
	if err != nil || id != o.ID {
		t.Fatalf("MessageID %v, %v; Open says %v", id, err, o.ID)
	}
	if l := o.Layout.CoreSize; l != bucket(l) {
		t.Fatalf("core of %d bytes is not a bucket size", l)
	}
}
