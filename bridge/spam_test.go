package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/spam"
)

// TestSpamSurvivesRestart: this device's training, larger than one state
// value, and another device's document are read back after a restart,
// and sum to the same model; the device's own document coming back
// through the feed changes nothing.
func TestSpamSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), StoreFile)
	open := func() *Bridge {
		b := &Bridge{store: openTestStore(t, path), cfg: Config{DeviceID: "devA"}, log: slog.Default()}
		if err := b.loadSpam(ctx); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	var many []string
	for i := range 20000 {
		many = append(many, fmt.Sprintf("token-%05d", i))
	}
	b.spam.plus.Train(many, true)
	b.spam.plus.Train([]string{"meeting", "agenda"}, false)
	b.spam.minus.Train([]string{"token-00001"}, true)
	if err := b.saveSpam(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := b.store.GetState(ctx, spamOwnState); len(v) == 0 {
		t.Fatal("no manifest")
	}
	other := spam.New()
	other.Train([]string{"meeting", "lunch"}, false)
	op, _ := other.MarshalBinary()
	empty, _ := spam.New().MarshalBinary()
	doc := func(device string, plus []byte) []byte {
		p, err := (&syncdoc.Spam{Device: device, Updated: 1, Plus: plus, Minus: empty}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := b.applySpam(ctx, syncdoc.SpamID("devB"), doc("devB", op)); err != nil {
		t.Fatal(err)
	}
	if err := b.applySpam(ctx, syncdoc.SpamID("devA"), doc("devA", op)); err != nil {
		t.Fatal(err)
	}
	before := b.SpamStatus()
	if before.Spam != 0 || before.Ham != 2 || before.Devices != 2 || before.Tokens != 20002 {
		// Spam 1 trained, 1 taken back (the message count of minus); ham
		// one here, one on devB.
		t.Fatalf("status %+v", before)
	}
	if !b.spam.dirty.Load() {
		t.Error("saved training not marked for push")
	}
	b.store.Close()

	b = open()
	defer b.store.Close()
	if after := b.SpamStatus(); after != before {
		t.Fatalf("after a restart %+v, before %+v", after, before)
	}
	if !b.spam.dirty.Load() {
		t.Error("training saved but never pushed is not pushed after a restart")
	}
	// A second save writes the other generation; the smaller value reads
	// back whole, with none of the first's chunks.
	b.spam.plus = spam.New()
	if err := b.saveSpam(ctx); err != nil {
		t.Fatal(err)
	}
	plain, err := getBlob(ctx, b.store, spamOwnState)
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := decodeSpamDoc(plain); err != nil || c.plus.Len() != 0 || c.minus.Len() != 1 {
		t.Fatalf("second save read back: %v", err)
	}
}

// openTestStore opens the store at path, new or again, with the all-zero
// key; the test closes it.
func openTestStore(t testing.TB, path string) *mailstore.Store {
	t.Helper()
	s, err := mailstore.Open(path, make([]byte, mailstore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScreen: the mailbox and X-Umbra-Spam screen gives: nothing moves
// while the model learns; trained, legacy spam goes to Junk, and dark
// mail of the same score only from spamDarkCutoff on; a sender's own
// X-Umbra-Spam never survives.
func TestScreen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := screenBridge(t)
	spamW := strings.Fields("cheap pills winner lottery prize casino bonus offer")
	hamW := strings.Fields("meeting agenda project review budget report draft lunch")
	msg := func(verdict string, words ...string) []byte {
		return []byte("Umbra-Security: " + verdict + "\r\nX-Umbra-Spam: no; score=0.0000\r\nSubject: hello\r\n\r\n" + strings.Join(words, " ") + "\r\n")
	}
	const legacy, dark = "legacy; not end-to-end encrypted", "encrypted; signed=a@a.test; key=verified"
	screen := func(m []byte) (string, string) {
		out, mailbox, err := b.screen(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(out), "Umbra-Security: ") || strings.Count(string(out), "X-Umbra-Spam:") != 1 {
			t.Fatalf("fields: %q", out)
		}
		v, _, _ := strings.Cut(string(out)[strings.Index(string(out), "X-Umbra-Spam: ")+len("X-Umbra-Spam: "):], "\r\n")
		return mailbox, v
	}
	if mb, v := screen(msg(legacy, spamW...)); mb != "INBOX" || !strings.Contains(v, "learning (trained on 0 spam, 0 ham)") {
		t.Fatalf("untrained: %s %q", mb, v)
	}
	for i := range spamMinTrained {
		b.spam.plus.Train(append(slices.Clone(spamW), fmt.Sprint("s", i)), true)
		b.spam.plus.Train(append(slices.Clone(hamW), fmt.Sprint("h", i)), false)
	}
	b.spam.combine()
	if mb, v := screen(msg(legacy, spamW...)); mb != "Junk" || !strings.HasPrefix(v, "yes; score=") {
		t.Fatalf("trained, legacy spam: %s %q", mb, v)
	}
	if mb, v := screen(msg(dark, hamW...)); mb != "INBOX" || !strings.HasPrefix(v, "no; score=") {
		t.Fatalf("dark ham: %s %q", mb, v)
	}
	// The dark cutoff, which the toy model's extreme scores never fall
	// between: the rule itself.
	for _, c := range []struct {
		score      float64
		nSpam      int
		dark, junk bool
	}{
		{0.995, 10, false, true}, {0.995, 10, true, false}, {0.99995, 10, true, true}, {0.99995, 9, false, false},
	} {
		if got := toJunk(spam.Spam, c.score, c.nSpam, 10, c.dark); got != c.junk {
			t.Errorf("toJunk(%v, %d spam, dark %v) = %v", c.score, c.nSpam, c.dark, got)
		}
	}
}

// BenchmarkScreen: what screening costs a delivered legacy message of
// about 50 KB of HTML (the bench mix's common size) with a trained model.
func BenchmarkScreen(b *testing.B) {
	ctx := context.Background()
	br := screenBridge(b)
	for i := range 200 {
		br.spam.plus.Train(strings.Fields(fmt.Sprintf("w%d w%d w%d common words here", i, i%17, i%31)), i%2 == 0)
	}
	br.spam.combine()
	var body strings.Builder
	for i := 0; body.Len() < 50<<10; i++ {
		fmt.Fprintf(&body, `<p>Paragraph %d with w%d and <a href="https://x.example/%d">a link</a> <img src="http://t.example/%d.png"></p>`+"\n", i, i%50, i, i)
	}
	msg := []byte("Umbra-Security: legacy; x\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body.String())
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, _, err := br.screen(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// screenBridge is a Bridge with a new store, an empty spam model and the
// default safe-HTML setting: what screen needs.
func screenBridge(tb testing.TB) *Bridge {
	tb.Helper()
	b := &Bridge{store: openTestStore(tb, filepath.Join(tb.TempDir(), StoreFile)), cfg: Config{DeviceID: "devA"}, log: slog.Default()}
	tb.Cleanup(func() { b.store.Close() })
	if err := b.loadSpam(context.Background()); err != nil {
		tb.Fatal(err)
	}
	b.safeHTML.Store(SafeHTMLLegacy)
	return b
}
