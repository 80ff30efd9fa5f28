package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"umbra/bridge"
)

// Word lists of the generated corpus: each message mixes words of its
// class with words every mail uses, so the filter has to weigh evidence,
// not look up a marker.
var (
	spamWords = strings.Fields(`viagra cheap pills winner lottery claim prize bitcoin investment
		guaranteed offer limited casino bonus unsubscribe click urgent wire transfer inheritance
		pharmacy discount replica watches loan approved credit miracle weight`)
	hamWords = strings.Fields(`meeting agenda project review schedule tomorrow budget report draft
		thanks lunch team deadline release notes minutes quarterly roadmap design document
		feedback colleague seminar invoice attached conference`)
	commonWords = strings.Fields(`the a and you your for with this that please today week time
		about more information here new`)
)

// corpusMessage is one generated message of class spam or ham.
func corpusMessage(r *rand.Rand, spam bool, tag string) (from, msg string) {
	words, domain := hamWords, "legacy.test"
	if spam {
		words, domain = spamWords, []string{"promo.test", "deals.test", "win.test"}[r.IntN(3)]
	}
	pick := func(n int) string {
		var w []string
		for range n {
			if r.IntN(5) == 0 {
				w = append(w, commonWords[r.IntN(len(commonWords))])
			} else {
				w = append(w, words[r.IntN(len(words))])
			}
		}
		return strings.Join(w, " ")
	}
	from = fmt.Sprintf("%s@%s", []string{"carol", "dave", "erin", "sales", "info"}[r.IntN(5)], domain)
	msg = fmt.Sprintf("From: %s\r\nTo: bob@b.test\r\nSubject: %s %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n%s\r\n", from, tag, pick(4), tag, domain, pick(30+r.IntN(30)), pick(20))
	return from, msg
}

// sendLegacy delivers msg to the MX as the legacy world does, over SMTP.
func sendLegacy(t *testing.T, mx, from, msg string) {
	t.Helper()
	c, err := smtp.Dial(mx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{"bob@b.test"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("send %.60q: %v", msg, err)
	}
}

// uidsOf are the UIDs of the messages of the selected mailbox whose
// subject contains s.
func uidsOf(c *imapclient.Client, s string) (imap.UIDSet, error) {
	res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: s}}}, nil).Wait()
	if err != nil || len(res.AllUIDs()) != 1 {
		return nil, fmt.Errorf("search %q: %v %v", s, res, err)
	}
	return imap.UIDSetNum(res.AllUIDs()...), nil
}

// moveOne moves the one message of the selected mailbox whose subject
// contains s to mailbox.
func moveOne(c *imapclient.Client, s, mailbox string) error {
	uids, err := uidsOf(c, s)
	if err == nil {
		_, err = c.Move(uids, mailbox).Wait()
	}
	if err != nil {
		return fmt.Errorf("move %s to %s: %w", s, mailbox, err)
	}
	return nil
}

var spamField = regexp.MustCompile(`(?m)^X-Umbra-Spam: (yes|no|unsure); score=([0-9.]+)`)

// TestSpamFilter: bob trains his filter on two devices at once through
// IMAP — moves into Junk, $NotJunk, a move into Junk and back out — on
// legacy mail from a generated labelled corpus. Both devices' models end
// with every count (a PN-counter per device, synced), and new legacy
// spam lands in Junk with its score, ham in INBOX, the sender's own
// X-Umbra-Spam dropped, a risky attachment marked.
func TestSpamFilter(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	bob := d.info.Accounts[1]
	mx := d.info.Providers[1].MX
	one := d.bridges[1].b
	t0 := time.Now()
	rb := secondDevice(t, d, bob.Address, "phone")
	t.Logf("second device in %v", time.Since(t0))
	two := rb.b
	r := rand.New(rand.NewPCG(14, 1))
	start := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }

	const n = 12 // per class; at least spamMinTrained
	for i := range n {
		for _, spam := range []bool{true, false} {
			tag := fmt.Sprintf("[h%02d]", i)
			if spam {
				tag = fmt.Sprintf("[s%02d]", i)
			}
			from, msg := corpusMessage(r, spam, tag)
			sendLegacy(t, mx, from, msg)
		}
	}
	for _, b := range []*bridge.Bridge{one, two} {
		waitMailbox(t, b.Store(), "INBOX", fmt.Sprintf("[s%02d]", n-1))
		waitMailbox(t, b.Store(), "INBOX", fmt.Sprintf("[h%02d]", n-1))
	}
	phase("24 messages on both devices")
	h := fetchOf(t, bob, "INBOX", "[s00]", imap.PartSpecifierHeader)
	if !strings.Contains(h, "X-Umbra-Spam: ") || !strings.Contains(h, "learning (trained on 0 spam, 0 ham)") {
		t.Fatalf("untrained: nothing moved, and the header says so:\n%s", h)
	}

	// Both devices train at once, each on its half.
	c1 := imapSession(t, bob.IMAP, bob.Username, bob.Password)
	c2 := imapSession(t, two.IMAPAddr(), two.Username(), two.MailPassword())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for k, c := range []*imapclient.Client{c1, c2} {
		wg.Go(func() {
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				errs <- err
				return
			}
			for i := k * n / 2; i < (k+1)*n/2; i++ {
				if err := moveOne(c, fmt.Sprintf("[s%02d]", i), "Junk"); err != nil {
					errs <- err
					return
				}
				if i == 0 {
					continue // [h00] goes into Junk and out again below
				}
				uids, err := uidsOf(c, fmt.Sprintf("[h%02d]", i))
				if err == nil {
					err = c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"$NotJunk"}, Silent: true}, nil).Close()
				}
				if err != nil {
					errs <- fmt.Errorf("$NotJunk [h%02d]: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	eventually(t, "both devices sum both devices' training", func() bool {
		s1, s2 := one.SpamStatus(), two.SpamStatus()
		return s1.Spam == n && s1.Ham == n-1 && s1 == s2
	})
	// A mistake undone: [h00] into Junk (spam), then out of it (spam
	// taken back, ham).
	if err := moveOne(c1, "[h00]", "Junk"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "device one trains [h00] as spam", func() bool { return one.SpamStatus().Spam == n+1 })
	if _, err := c1.Select("Junk", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := moveOne(c1, "[h00]", "INBOX"); err != nil {
		t.Fatal(err)
	}
	phase("trained")
	var st1, st2 bridge.SpamStatus
	eventually(t, "both devices' models hold every device's training", func() bool {
		st1, st2 = one.SpamStatus(), two.SpamStatus()
		return st1.Spam == n && st1.Ham == n && st1 == st2 && st1.Devices == 2 && st1.Active
	})
	phase(fmt.Sprintf("model on both devices: %+v", st1))
	if out := mustUmbra(t, "spam", "status", "--dir", bob.Dir); !strings.Contains(out, "trained     12 spam, 12 ham (from 2 device(s))") ||
		!strings.Contains(out, "filter      active") {
		t.Errorf("umbra spam status:\n%s", out)
	}

	// New mail: spam into Junk, ham into INBOX, scored alike everywhere.
	for i := range 3 {
		from, msg := corpusMessage(r, true, fmt.Sprintf("[S%d]", i))
		if i == 0 {
			msg = "X-Umbra-Spam: no; score=0.0000\r\n" + msg // the sender's word counts for nothing
		}
		sendLegacy(t, mx, from, msg)
		from, msg = corpusMessage(r, false, fmt.Sprintf("[H%d]", i))
		if i == 0 {
			msg = strings.Replace(msg, "Content-Type: text/plain; charset=utf-8\r\n\r\n", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"+
				"Content-Type: text/plain\r\n\r\n", 1) + "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=setup.exe\r\n\r\nMZ\r\n--b--\r\n"
		}
		sendLegacy(t, mx, from, msg)
	}
	phase("6 sent")
	two2 := demoAccount{IMAP: two.IMAPAddr(), Username: two.Username(), Password: two.MailPassword()}
	for i := range 3 {
		for _, dev := range []struct {
			b *bridge.Bridge
			a demoAccount
		}{{one, bob}, {two, two2}} {
			waitMailbox(t, dev.b.Store(), "Junk", fmt.Sprintf("[S%d]", i))
			waitMailbox(t, dev.b.Store(), "INBOX", fmt.Sprintf("[H%d]", i))
			hs := fetchOf(t, dev.a, "Junk", fmt.Sprintf("[S%d]", i), imap.PartSpecifierHeader)
			hh := fetchOf(t, dev.a, "INBOX", fmt.Sprintf("[H%d]", i), imap.PartSpecifierHeader)
			ms, mh := spamField.FindAllStringSubmatch(hs, -1), spamField.FindAllStringSubmatch(hh, -1)
			if len(ms) != 1 || ms[0][1] != "yes" || len(mh) != 1 || mh[0][1] != "no" {
				t.Fatalf("[S%d]/[H%d]: spam %q, ham %q", i, i, ms, mh)
			}
			if s, _ := strconv.ParseFloat(ms[0][2], 64); s < 0.99 {
				t.Errorf("[S%d]: score %v below the threshold yet in Junk", i, s)
			}
			if i == 0 && !strings.Contains(hh, "X-Umbra-Risky-Attachment: setup.exe\r\n") {
				t.Errorf("[H0]: risky attachment not marked:\n%s", hh)
			}
		}
	}
	phase("6 checked")
	// Device two scores with a model that holds device one's training:
	// the same score for a message it has not seen filed.
	_, probe := corpusMessage(r, true, "[probe]")
	v1, s1 := one.ClassifySpam([]byte(probe))
	v2, s2 := two.ClassifySpam([]byte(probe))
	if v1 != "yes" || v1 != v2 || s1 != s2 {
		t.Errorf("probe: device one %s %v, device two %s %v", v1, s1, v2, s2)
	}

	// From the command line: all of Junk (12 trained spam, 6 of them on
	// this device, and 3 filed) as ham. This device takes back all 12,
	// device two's too (docs/spec/sync.md §5.6).
	pwFile := filepath.Join(d.dir, "accounts", bob.Address+".password")
	failUmbra(t, "one of --spam and --ham", "spam", "train", "--dir", bob.Dir, "--password-file", pwFile, "Junk")
	if out := mustUmbra(t, "spam", "train", "--ham", "--dir", bob.Dir, "--password-file", pwFile, "Junk"); !strings.Contains(out, "15 messages of Junk marked ham") {
		t.Errorf("umbra spam train: %s", out)
	}
	eventually(t, "Junk trained as ham", func() bool {
		s1, s2 := one.SpamStatus(), two.SpamStatus()
		return s1.Spam == 0 && s1.Ham == 2*n+3 && s1 == s2
	})
	phase("trained from the command line")
}

// trackingHTML is an HTML mail body with a tracking pixel, a script and
// an event handler.
const trackingHTML = `<html><body><p>Your parcel is on its way.</p>` +
	`<img src="http://track.example/open.gif?id=bob" width="1" height="1">` +
	`<script>fetch("http://track.example/js")</script><img src="x" onerror="alert(1)"></body></html>`

func htmlMail(from, subject string) string {
	return fmt.Sprintf("From: %s\r\nTo: bob@b.test\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", from, subject, trackingHTML)
}

// TestSafeHTML: legacy HTML mail reaches a mail client over IMAP without
// its tracking pixel, script and event handler, with a note; dark mail
// from a validated sender, for which the default setting is off, passes
// unchanged.
func TestSafeHTML(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	sendLegacy(t, d.info.Providers[1].MX, "shop@legacy.test", htmlMail("shop@legacy.test", "legacy parcel"))
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sendOne(sc, alice.Address, bob.Address, []byte(htmlMail(alice.Address, "dark parcel"))); err != nil {
		t.Fatal(err)
	}
	st := d.bridges[1].b.Store()
	waitMailbox(t, st, "INBOX", "legacy parcel")
	waitMailbox(t, st, "INBOX", "dark parcel")

	legacy := fetchOf(t, bob, "INBOX", "legacy parcel", imap.PartSpecifierNone)
	for _, gone := range []string{"track.example", "<script", "onerror", "alert("} {
		if strings.Contains(legacy, gone) {
			t.Errorf("legacy mail still has %q:\n%s", gone, legacy)
		}
	}
	for _, kept := range []string{"Your parcel is on its way.", "Umbra blocked", "Content-Transfer-Encoding: quoted-printable", "Umbra-Security: legacy;"} {
		if !strings.Contains(legacy, kept) {
			t.Errorf("legacy mail lost %q:\n%s", kept, legacy)
		}
	}
	dark := fetchOf(t, bob, "INBOX", "dark parcel", imap.PartSpecifierText)
	if !strings.Contains(dark, trackingHTML) {
		t.Errorf("dark mail from a validated sender changed:\n%s", dark)
	}
}
