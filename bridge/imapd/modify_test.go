package imapd

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

func TestStoreFlags(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	m := e.add(t, "INBOX", "one", "1", mailstore.Remote)
	e.add(t, "INBOX", "two", "2", mailstore.Remote)
	c := e.selectBox(t, "INBOX", nil)

	store := func(set imap.NumSet, op imap.StoreFlagsOp, silent bool, flags ...imap.Flag) [][]imap.Flag {
		t.Helper()
		msgs, err := c.Store(set, &imap.StoreFlags{Op: op, Silent: silent, Flags: flags}, nil).Collect()
		if err != nil {
			t.Fatalf("STORE: %v", err)
		}
		var out [][]imap.Flag
		for _, m := range msgs {
			out = append(out, withoutRecent(m.Flags))
		}
		return out
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	if got := store(all, imap.StoreFlagsAdd, false, "\\seen", "$Work"); len(got) != 2 ||
		!slices.Equal(got[0], []imap.Flag{"$Work", imap.FlagSeen}) {
		t.Errorf("+FLAGS = %v", got)
	}
	if got := store(imap.SeqSetNum(1), imap.StoreFlagsDel, false, "$work"); !slices.Equal(got[0], []imap.Flag{imap.FlagSeen}) {
		t.Errorf("-FLAGS = %v", got)
	}
	if got := store(imap.UIDSetNum(2), imap.StoreFlagsSet, true, imap.FlagAnswered); len(got) != 0 {
		t.Errorf("FLAGS.SILENT answered %v", got)
	}
	if got := fetchFlags(t, c, 2); !slices.Equal(got, []imap.Flag{imap.FlagAnswered}) {
		t.Errorf("after FLAGS.SILENT: %v", got)
	}
	// The change is Local: the sync engine will push it.
	got, err := e.store.Get(t.Context(), m.ID)
	if err != nil || !slices.Equal(got.Flags, []string{`\Seen`}) {
		t.Errorf("stored %v, %v", got.Flags, err)
	}
	pending, err := e.store.Pending(t.Context(), 10)
	if err != nil || len(pending) != 2 {
		t.Errorf("pending = %+v, %v", pending, err)
	}
	// An unknown system flag is refused, not a server error.
	err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{`\Bogus`}}, nil).Close()
	wantCode(t, err, imap.ResponseCodeCannot)
}

func TestCopyMoveExpunge(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	for _, s := range []string{"a", "b", "c", "d"} {
		e.add(t, "INBOX", s, s, mailstore.Remote)
	}
	c := e.selectBox(t, "INBOX", nil)
	archive, _ := e.store.Mailbox(t.Context(), "Archive")

	var set imap.UIDSet
	set.AddRange(2, 3)
	cp, err := c.Copy(set, "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if cp.UIDValidity != archive.UIDValidity || cp.SourceUIDs.String() != "2:3" || cp.DestUIDs.String() != "1:2" {
		t.Errorf("COPYUID = %d %v %v", cp.UIDValidity, cp.SourceUIDs, cp.DestUIDs)
	}

	mv, err := c.Move(imap.SeqSetNum(1), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if mv.UIDValidity != archive.UIDValidity || mv.SourceUIDs.String() != "1" || mv.DestUIDs.String() != "3" {
		t.Errorf("MOVE COPYUID = %d %v %v", mv.UIDValidity, mv.SourceUIDs, mv.DestUIDs)
	}
	// The moved message is gone from this session's view: seq 1 is now UID 2.
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 {
		t.Fatalf("after MOVE seq 1 = %+v, %v", msgs, err)
	}

	_, err = c.Copy(imap.SeqSetNum(1), "Nowhere").Wait()
	wantCode(t, err, imap.ResponseCodeTryCreate)
	_, err = c.Move(imap.SeqSetNum(1), "Nowhere").Wait()
	wantCode(t, err, imap.ResponseCodeTryCreate)

	// EXPUNGE removes \Deleted messages and reports them one by one.
	if err := c.Store(imap.UIDSetNum(2, 4), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	// UID EXPUNGE only touches the UIDs given (RFC 4315 §2.1).
	seqs, err := c.UIDExpunge(imap.UIDSetNum(4)).Collect()
	if err != nil || !slices.Equal(seqs, []uint32{3}) {
		t.Errorf("UID EXPUNGE 4 = %v, %v", seqs, err)
	}
	seqs, err = c.Expunge().Collect()
	if err != nil || !slices.Equal(seqs, []uint32{1}) {
		t.Errorf("EXPUNGE = %v, %v", seqs, err)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Errorf("after EXPUNGE = %+v, %v", msgs, err)
	}

	// UIDs are never reused: a new message gets a UID above all earlier ones.
	data := appendMsg(t, c, "INBOX", mimeMsg("e", "e"), nil)
	if data.UID != 5 {
		t.Errorf("APPEND after expunges got UID %d, want 5", data.UID)
	}
	if _, err := c.Select("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != 3 {
		t.Fatalf("Archive: %+v, %v", msgs, err)
	}
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, m.Envelope.Subject)
	}
	if !slices.Equal(subjects, []string{"b", "c", "a"}) {
		t.Errorf("Archive subjects %v", subjects)
	}
}
