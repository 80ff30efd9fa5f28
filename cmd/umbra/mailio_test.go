package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge"
	"umbra/bridge/mailstore"
	"umbra/mboxio"
	"umbra/testnet"
)

// TestImportKilledAndResumed imports an mbox of the bench mix with the
// real `umbra import` in a child process, SIGKILLs it at half, resumes it,
// and checks INBOX ends with exactly the corpus (count and SHA-256 of
// every message) and each child's peak RSS (VmHWM) stayed bounded.
func TestImportKilledAndResumed(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	res, err := benchImport(context.Background(), &log, t.TempDir(), importMessages)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var out bytes.Buffer
	res.print(&out)
	t.Log("\n" + out.String())
	if len(res.runs) != 2 || !res.runs[0].killed || res.runs[1].killed {
		t.Fatalf("runs %+v, want one killed then one to the end", res.runs)
	}
	if !strings.Contains(log.String(), "import: resuming after ") {
		t.Errorf("the second run did not resume:\n%s", log.String())
	}
	for i, run := range res.runs {
		if run.peakRSS <= 0 || run.peakRSS > importRSS {
			t.Errorf("run %d: peak RSS %d bytes, want (0, %d]", i+1, run.peakRSS, importRSS)
		}
	}
}

// storeOf opens the store of the account in dir, the bridge possibly
// running.
func storeOf(t *testing.T, dir, pwFile string) *mailstore.Store {
	t.Helper()
	pw, err := readSecretFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	_, keys, err := openAccount(dir, []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Zero()
	st, err := bridge.OpenStore(dir, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// storedMessage is a message as a folder holds it.
type storedMessage struct {
	flags []string
	date  time.Time
	mime  string
}

// folderMessages returns a folder's messages by their bytes.
func folderMessages(t *testing.T, st *mailstore.Store, folder string) map[string]storedMessage {
	t.Helper()
	ctx := context.Background()
	mb, err := st.Mailbox(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storedMessage{}
	err = st.EachMessage(ctx, mb.ID, func(m mailstore.Message, mime []byte) error {
		out[string(mime)] = storedMessage{flags: m.Flags, date: m.InternalDate, mime: string(mime)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testMbox writes an mbox of n messages of the bench mix, the first with
// mail readers' Status and X-Status flags, and returns their bytes.
func testMbox(t *testing.T, path string, n int) [][]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := mboxio.NewMboxWriter(f)
	var msgs [][]byte
	for i := range n {
		m := testnet.MailMIME(i, testnet.MixSize(i*7))
		if i == 0 {
			m = append([]byte("Status: RO\r\nX-Status: AF\r\n"), m...)
		}
		msgs = append(msgs, m)
		if err := w.Write("sender@b.test", time.Date(2019, 5, 1, 12, 0, i, 0, time.UTC), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestImportWhileBridgeRuns imports into bob's account in a child
// process while his bridge runs: an IMAP client with INBOX selected hears
// of the new messages, and his second device gets every one of them,
// flags included, through the provider.
func TestImportWhileBridgeRuns(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	const bob = "bob@b.test"
	acct := filepath.Join(d.dir, "accounts", bob)
	pwFile := acct + ".password"
	phone := secondDevice(t, d, bob, "phone")
	waitMailbox(t, phone.b.Store(), mailstore.Inbox, "Welcome")

	rb := d.bridges[1]
	c, err := imapclient.DialInsecure(rb.b.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(rb.b.Username(), rb.b.MailPassword()).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(mailstore.Inbox, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	before := sel.NumMessages

	dir := t.TempDir()
	msgs := testMbox(t, filepath.Join(dir, "old.mbox"), 40)
	maildir := filepath.Join(dir, "Maildir")
	if err := mboxio.CreateMaildir(filepath.Join(maildir, ".Old.2019")); err != nil {
		t.Fatal(err)
	}
	for i, flags := range []string{"", "S", "FRS"} {
		if _, err := mboxio.DeliverMaildir(filepath.Join(maildir, ".Old.2019"), testnet.MailMIME(1000+i, 4<<10), flags); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"import", "mbox", filepath.Join(dir, "old.mbox")},
		{"import", "maildir", maildir},
	} {
		cmd := childCommand(append(args, "--dir", acct, "--password-file", pwFile)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("%s:\n%s", strings.Join(args, " "), out)
	}

	want := uint32(len(msgs)) + before
	eventually(t, fmt.Sprintf("the IMAP client never saw %d messages in INBOX", want), func() bool {
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		return c.Mailbox().NumMessages == want
	})

	// Every message reaches the second device, through the provider.
	home := storeOf(t, acct, pwFile)
	for _, folder := range []string{mailstore.Inbox, "Old/2019"} {
		src := folderMessages(t, home, folder)
		eventually(t, fmt.Sprintf("the phone never got all %d messages of %s", len(src), folder), func() bool {
			mb, err := phone.b.Store().Mailbox(context.Background(), folder)
			return err == nil && int(mb.Messages) == len(src)
		})
		// The phone stamps them as it stamps a message appended on
		// another device: not verified.
		got := map[string]storedMessage{}
		for mime, m := range folderMessages(t, phone.b.Store(), folder) {
			got[strings.TrimPrefix(mime, bridge.SecurityHeader+": local; appended by a mail client; not verified\r\n")] = m
		}
		for mime, m := range src {
			if g, ok := got[mime]; !ok || !slices.Equal(g.flags, m.flags) {
				t.Errorf("%s: the phone has %+v of a message with flags %v", folder, g.flags, m.flags)
			}
		}
	}
	inbox := folderMessages(t, home, mailstore.Inbox)
	first := inbox[string(msgs[0])]
	if !slices.Equal(first.flags, []string{`\Answered`, `\Flagged`, `\Seen`}) || !first.date.Equal(time.Date(2019, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("the first mbox message has flags %v and date %v, want its Status/X-Status flags and separator date", first.flags, first.date)
	}
	old := folderMessages(t, home, "Old/2019")
	var flags []string
	for _, m := range old {
		flags = append(flags, strings.Join(m.flags, " "))
	}
	slices.Sort(flags)
	if want := []string{"", `\Answered \Flagged \Seen`, `\Seen`}; !slices.Equal(flags, want) {
		t.Errorf("Old/2019 flags %q, want %q", flags, want)
	}
}

// TestImportMalformed: malformed messages are skipped one by one with the
// reason, the rest imported, into a folder the import creates.
func TestImportMalformed(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	acct := filepath.Join(d.dir, "accounts", "alice@a.test")
	pwFile := acct + ".password"
	dir := t.TempDir()
	mbox := filepath.Join(dir, "bad.mbox")
	content := "From a Mon Dec  7 11:00:00 2026\nSubject: good one\n\nbody\n\n" +
		"From b Mon Dec  7 11:00:00 2026\n\n\n" +
		"From c Mon Dec  7 11:00:00 2026\nthis is not a header\n\nbody\n\n" +
		"From d Mon Dec  7 11:00:00 2026\n\x00\xff\xfe binary: junk\n\n" +
		"From e Mon Dec  7 11:00:00 2026\nSubject: good two\n\nbody\n"
	if err := os.WriteFile(mbox, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustUmbra(t, "import", "mbox", mbox, "--folder", "Imported/Bad", "--dir", acct, "--password-file", pwFile)
	if !strings.Contains(out, "imported 2 messages; skipped 0 duplicates and 3 malformed") {
		t.Errorf("mbox import said %q", out)
	}
	code, _, errOut := umbra(t, "import", "mbox", mbox, "--folder", "Imported/Bad", "--dir", acct, "--password-file", pwFile)
	for _, want := range []string{"empty message", `does not begin with a header field (first line "this is not a header")`, "message at byte "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	mb, err := d.bridges[0].b.Store().Mailbox(context.Background(), "Imported/Bad")
	if err != nil || mb.Messages != 2 {
		t.Errorf("Imported/Bad: %+v, %v; want it created with 2 messages", mb, err)
	}

	maildir := filepath.Join(dir, "Maildir")
	if err := mboxio.CreateMaildir(maildir); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"new/1.a": "Subject: fine\n\nok\n", "new/2.b": "", "cur/3.c:2,S": "\x00garbage", "cur/.hidden": "Subject: no\n\n"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(maildir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(maildir, "cur", "4.d:2,S"), 0o700); err != nil { // a directory where a message should be
		t.Fatal(err)
	}
	code, stdout, errOut := umbra(t, "import", "maildir", maildir, "--folder", "Imported/Maildir", "--dir", acct, "--password-file", pwFile)
	if code != 0 || !strings.Contains(stdout, "imported 1 messages; skipped 0 duplicates and 3 malformed") {
		t.Errorf("maildir import: exit %d, %q, %s", code, stdout, errOut)
	}
	for _, want := range []string{"2.b: empty message", "3.c:2,S: does not begin with a header field", "4.d:2,S: mboxio: maildir: read"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	failUmbra(t, "not an mbox", "import", "mbox", filepath.Join(maildir, "new", "1.a"), "--dir", acct, "--password-file", pwFile)
	failUmbra(t, "no such file", "import", "mbox", filepath.Join(dir, "missing"), "--dir", acct, "--password-file", pwFile)
	if code, _, errOut := umbra(t, "import", "pst", mbox, "--dir", acct, "--password-file", pwFile); code != 2 || !strings.Contains(errOut, "mbox or maildir") {
		t.Errorf("import pst: exit %d, %q; want a usage error", code, errOut)
	}
}

// TestExportImportRoundTrip exports alice's folders as a Maildir++ tree
// and as mbox files, imports both into bob's account, and checks bob ends
// with the same messages byte for byte, with their flags and dates.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	accounts := filepath.Join(d.dir, "accounts")
	alice := []string{"--dir", filepath.Join(accounts, "alice@a.test"), "--password-file", filepath.Join(accounts, "alice@a.test.password")}
	bob := []string{"--dir", filepath.Join(accounts, "bob@b.test"), "--password-file", filepath.Join(accounts, "bob@b.test.password")}
	dir := t.TempDir()
	testMbox(t, filepath.Join(dir, "in.mbox"), 30)
	maildir := filepath.Join(dir, "in")
	for i, sub := range []string{"", ".Work", ".Work.Projects", ".Work.Projects"} {
		m := testnet.MailMIME(500+i, 4<<10)
		if i == 3 {
			m = append([]byte("X-Test: >From quoting\r\n"), append(m, "From here on\r\n>From there\r\n"...)...)
		}
		if err := mboxio.CreateMaildir(filepath.Join(maildir, sub)); err != nil {
			t.Fatal(err)
		}
		if _, err := mboxio.DeliverMaildir(filepath.Join(maildir, sub), m, "S"); err != nil {
			t.Fatal(err)
		}
	}
	mustUmbra(t, append([]string{"import", "mbox", filepath.Join(dir, "in.mbox"), "--folder", "Archive/2019"}, alice...)...)
	mustUmbra(t, append([]string{"import", "maildir", maildir}, alice...)...)

	mustUmbra(t, append([]string{"export", "maildir", filepath.Join(dir, "out-maildir")}, alice...)...)
	mustUmbra(t, append([]string{"export", "mbox", filepath.Join(dir, "out-mbox")}, alice...)...)
	mustUmbra(t, append([]string{"export", "mbox", filepath.Join(dir, "out-one"), "--folder", "Work"}, alice...)...)
	if m, _ := filepath.Glob(filepath.Join(dir, "out-one", "*")); len(m) != 1 || filepath.Base(m[0]) != "Work.mbox" {
		t.Errorf("export of one folder wrote %v", m)
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "out-mbox", "Work", "Projects.mbox")); err != nil ||
		!bytes.Contains(raw, []byte("\n>From here on\n>>From there\n")) {
		t.Errorf("mboxrd quoting missing from the export (%v):\n%s", err, raw)
	}
	failUmbra(t, "exists", append([]string{"export", "mbox", filepath.Join(dir, "out-mbox")}, alice...)...)
	if m, _ := filepath.Glob(filepath.Join(dir, ".*partial*")); len(m) > 0 {
		t.Errorf("partial exports left behind: %v", m)
	}

	mustUmbra(t, append([]string{"import", "maildir", filepath.Join(dir, "out-maildir"), "--folder", "FromAlice"}, bob...)...)
	mustUmbra(t, append([]string{"import", "mbox", filepath.Join(dir, "out-mbox", "Archive", "2019.mbox"), "--folder", "FromAliceMbox"}, bob...)...)
	mustUmbra(t, append([]string{"import", "mbox", filepath.Join(dir, "out-mbox", "Work", "Projects.mbox"), "--folder", "FromAliceMbox/Projects"}, bob...)...)
	as, bs := d.bridges[0].b.Store(), d.bridges[1].b.Store()
	for _, pair := range [][2]string{
		{"Archive/2019", "FromAliceMbox"}, {"INBOX", "FromAlice"}, {"Work", "FromAlice/Work"},
		{"Work/Projects", "FromAlice/Work/Projects"}, {"Archive/2019", "FromAlice/Archive/2019"},
		{"Work/Projects", "FromAliceMbox/Projects"}, // ">From" quoting there
	} {
		folder, imported := pair[0], pair[1]
		src := folderMessages(t, as, folder)
		got := folderMessages(t, bs, imported)
		if len(src) == 0 || len(got) != len(src) {
			t.Errorf("%s: %d messages, %s: %d", folder, len(src), imported, len(got))
		}
		for mime, m := range src {
			g, ok := got[mime]
			if !ok {
				t.Errorf("%s: a message did not come back byte for byte in %s", folder, imported)
				continue
			}
			if !g.date.Truncate(time.Second).Equal(m.date.Truncate(time.Second)) {
				t.Errorf("%s: date %v came back as %v", folder, m.date, g.date)
			}
			// mbox keeps no flags but those in the message's own fields.
			if !strings.HasPrefix(imported, "FromAliceMbox") && !slices.Equal(g.flags, m.flags) {
				t.Errorf("%s: flags %v came back as %v", folder, m.flags, g.flags)
			}
		}
	}
}

// Not on a terminal, the progress line is written at most once per
// interval, and the last report when done; messages go between.
func TestProgressLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	pl := newProgressLine(&buf, time.Hour)
	pl.show("import", 10, 1e6, 50, 200, 0)
	pl.show("import", 20, 2e6, 100, 200, 0)
	pl.say("import: skipped %s: %s", "x", "why")
	pl.show("import", 30, 3e6, 150, 200, 50)
	pl.done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "import: 10 messages, 1.0 MB, ") || !strings.Contains(lines[0], ", 25%, ETA ") ||
		lines[1] != "import: skipped x: why" || !strings.HasPrefix(lines[2], "import: 30 messages, 3.0 MB, ") || !strings.Contains(lines[2], ", 75%, ETA ") {
		t.Errorf("progress output:\n%s", buf.String())
	}
}
