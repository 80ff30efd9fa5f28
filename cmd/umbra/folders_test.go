package main

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestFolderRoundsTwoDevices: 20 rounds in which bob's two devices each,
// at the same time, CREATE a folder, DELETE it, CREATE it again and
// RENAME it, end every round with identical, correct folder lists on
// both (issue 10, Must show). Each device re-uses one working name every
// round (so each round re-creates a name deleted and renamed away in the
// one before) and renames it to a name of that round, which stays.
func TestFolderRoundsTwoDevices(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	bob := d.info.Accounts[1]
	rb := secondDevice(t, d, bob.Address, "phone")
	devices := []*imapclient.Client{
		imapSession(t, bob.IMAP, bob.Username, bob.Password),
		imapSession(t, rb.b.IMAPAddr(), rb.b.Username(), rb.b.MailPassword()),
	}
	// Both devices start from the account's folders (INBOX, Sent…).
	want := folderList(t, devices[0])
	var got [2][]string
	eventually(t, "both devices list the same folders at the start", func() bool {
		got[1] = folderList(t, devices[1])
		return slices.Equal(got[1], want)
	})

	const rounds = 20
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, len(devices))
		for i, c := range devices {
			work, done := fmt.Sprintf("work-%d", i+1), fmt.Sprintf("done-%d-%02d", i+1, round)
			want = append(want, done)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = folderRound(c, work, done)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, device %d: %v", round+1, i+1, err)
			}
		}
		slices.Sort(want)
		func() {
			defer func() {
				if t.Failed() {
					t.Logf("round %d: want %v\ndevice 1 lists %v\ndevice 2 lists %v", round+1, want, got[0], got[1])
				}
			}()
			eventually(t, fmt.Sprintf("round %d: both devices list the expected folders", round+1), func() bool {
				for i, c := range devices {
					got[i] = folderList(t, c)
				}
				return slices.Equal(got[0], want) && slices.Equal(got[1], want)
			})
		}()
	}
}

// folderRound is one device's round: CREATE work, DELETE it, CREATE it
// again, RENAME it to done.
func folderRound(c *imapclient.Client, work, done string) error {
	steps := []struct {
		what string
		run  func() error
	}{
		{"CREATE " + work, func() error { return c.Create(work, nil).Wait() }},
		{"DELETE " + work, func() error { return c.Delete(work).Wait() }},
		{"CREATE " + work + " again", func() error { return c.Create(work, nil).Wait() }},
		{"RENAME " + work + " " + done, func() error { return c.Rename(work, done, nil).Wait() }},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

// folderList is LIST "" "*": the names, sorted.
func folderList(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(boxes))
	for i, b := range boxes {
		names[i] = b.Mailbox
	}
	slices.Sort(names)
	return names
}
