package imapd

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge/mailstore"
)

// listed runs LIST and returns the attributes by mailbox name, in order.
func listed(t *testing.T, c *imapclient.Client, ref, pattern string, opts *imap.ListOptions) ([]string, map[string][]imap.MailboxAttr) {
	t.Helper()
	l, err := c.List(ref, pattern, opts).Collect()
	if err != nil {
		t.Fatalf("LIST %q %q: %v", ref, pattern, err)
	}
	var names []string
	attrs := map[string][]imap.MailboxAttr{}
	for _, d := range l {
		names = append(names, d.Mailbox)
		attrs[d.Mailbox] = d.Attrs
		if d.Delim != '/' && d.Mailbox != "" {
			t.Errorf("%s: delimiter %q", d.Mailbox, d.Delim)
		}
	}
	return names, attrs
}

func TestListSpecialUse(t *testing.T) {
	t.Parallel()
	c := start(t, nil).login(t, nil)
	names, attrs := listed(t, c, "", "*", nil)
	if names[0] != "INBOX" {
		t.Errorf("INBOX not first: %v", names)
	}
	want := map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts,
		"Trash": imap.MailboxAttrTrash, "Junk": imap.MailboxAttrJunk, "Archive": imap.MailboxAttrArchive}
	for name, attr := range want {
		if !slices.Contains(attrs[name], attr) {
			t.Errorf("%s: attributes %v lack %s", name, attrs[name], attr)
		}
	}
	if !slices.Contains(attrs["INBOX"], imap.MailboxAttrHasNoChildren) {
		t.Errorf("INBOX attributes %v", attrs["INBOX"])
	}

	names, _ = listed(t, c, "", "*", &imap.ListOptions{SelectSpecialUse: true})
	if len(names) != len(want) || slices.Contains(names, "INBOX") {
		t.Errorf("LIST (SPECIAL-USE) = %v", names)
	}
	// INBOX matches case-insensitively; "" "" gives the delimiter.
	if names, _ := listed(t, c, "", "inbox", nil); !slices.Equal(names, []string{"INBOX"}) {
		t.Errorf(`LIST "" inbox = %v`, names)
	}
	l, err := c.List("", "", nil).Collect()
	if err != nil || len(l) != 1 || l[0].Delim != '/' || !slices.Contains(l[0].Attrs, imap.MailboxAttrNoSelect) {
		t.Errorf(`LIST "" "" = %+v, %v`, l, err)
	}
}

func TestMailboxLifecycle(t *testing.T) {
	t.Parallel()
	c := start(t, nil).login(t, nil)

	if err := c.Create("Work/Projects/", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Create("Work/Projects", nil).Wait(), imap.ResponseCodeAlreadyExists)
	wantCode(t, c.Create("INBOX", nil).Wait(), imap.ResponseCodeAlreadyExists)
	wantCode(t, c.Create("bad*name", nil).Wait(), imap.ResponseCodeCannot)
	wantCode(t, c.Create("Mine", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrFlagged}}).Wait(), "USEATTR")

	names, _ := listed(t, c, "", "Work/%", nil)
	if !slices.Equal(names, []string{"Work/Projects"}) {
		t.Fatalf(`LIST "" Work/%% = %v`, names)
	}
	if _, attrs := listed(t, c, "", "Work", nil); !slices.Contains(attrs["Work"], imap.MailboxAttrHasChildren) {
		t.Errorf("Work attributes %v", attrs["Work"])
	}

	// Subscriptions: LIST (SUBSCRIBED) and RECURSIVEMATCH.
	if err := c.Subscribe("Work/Projects").Wait(); err != nil {
		t.Fatal(err)
	}
	names, attrs := listed(t, c, "", "*", &imap.ListOptions{SelectSubscribed: true})
	if !slices.Contains(names, "Work/Projects") || slices.Contains(names, "Work") ||
		!slices.Contains(attrs["Work/Projects"], imap.MailboxAttrSubscribed) {
		t.Errorf("LIST (SUBSCRIBED) = %v %v", names, attrs)
	}
	l, err := c.List("", "%", &imap.ListOptions{SelectSubscribed: true, SelectRecursiveMatch: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range l {
		if d.Mailbox == "Work" {
			found = d.ChildInfo != nil && d.ChildInfo.Subscribed
		}
	}
	if !found {
		t.Errorf("RECURSIVEMATCH did not list Work with CHILDINFO: %+v", l)
	}
	if err := c.Unsubscribe("Work/Projects").Wait(); err != nil {
		t.Fatal(err)
	}

	// Rename keeps the children with the parent.
	if err := c.Rename("Work", "Job", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if names, _ := listed(t, c, "", "Job/*", nil); !slices.Equal(names, []string{"Job/Projects"}) {
		t.Errorf("after RENAME: %v", names)
	}
	wantCode(t, c.Rename("Nowhere", "Else", nil).Wait(), imap.ResponseCodeNonExistent)
	wantCode(t, c.Rename("Job", "Sent", nil).Wait(), imap.ResponseCodeAlreadyExists)

	// Deleting the parent keeps the child; the parent name is then
	// listed \NonExistent (RFC 5258 §3.4).
	if err := c.Delete("Job").Wait(); err != nil {
		t.Fatal(err)
	}
	_, attrs = listed(t, c, "", "Job", nil)
	if !slices.Contains(attrs["Job"], imap.MailboxAttrNonExistent) {
		t.Errorf("deleted parent attributes %v", attrs["Job"])
	}
	wantCode(t, c.Delete("Job").Wait(), imap.ResponseCodeNonExistent)
	wantCode(t, c.Delete("INBOX").Wait(), imap.ResponseCodeCannot)
	wantCode(t, c.Delete("inbox").Wait(), imap.ResponseCodeCannot)
	if _, err := c.Select("Job", nil).Wait(); err == nil {
		t.Error("SELECT of a deleted mailbox succeeded")
	} else {
		wantCode(t, err, imap.ResponseCodeNonExistent)
	}
}

func TestRenameInbox(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "one", "1", mailstore.Remote)
	e.add(t, "INBOX", "two", "2", mailstore.Remote)
	c := e.login(t, nil)
	if err := c.Rename("INBOX", "Old", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{"INBOX": 0, "Old": 2} {
		st, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != want {
			t.Errorf("STATUS %s = %v, %v; want %d messages", name, st, err, want)
		}
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "seen", "a", mailstore.Remote, `\Seen`)
	m := e.add(t, "INBOX", "unseen", "bb", mailstore.Remote, `\Deleted`)
	c := e.login(t, nil)
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
		NumUnseen: true, NumDeleted: true, Size: true, AppendLimit: true, DeletedStorage: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := e.store.Mailbox(t.Context(), "INBOX")
	if *st.NumMessages != 2 || *st.NumUnseen != 1 || *st.NumDeleted != 1 || st.UIDNext != 3 ||
		st.UIDValidity != mb.UIDValidity || *st.Size != mb.Size || *st.DeletedStorage != m.Size ||
		st.AppendLimit == nil || *st.AppendLimit != appendLimit {
		t.Errorf("STATUS = %+v", st)
	}
	_, err = c.Status("Nowhere", &imap.StatusOptions{NumMessages: true}).Wait()
	wantCode(t, err, imap.ResponseCodeNonExistent)

	// LIST-STATUS returns the same data with the LIST.
	l, err := c.List("", "INBOX", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, NumUnseen: true}}).Collect()
	if err != nil || len(l) != 1 || l[0].Status == nil || *l[0].Status.NumMessages != 2 || *l[0].Status.NumUnseen != 1 {
		t.Errorf("LIST RETURN (STATUS) = %+v, %v", l, err)
	}
}
