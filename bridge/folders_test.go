package bridge

import (
	"context"
	"path/filepath"
	"testing"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
)

// TestDoomedFoldersSurviveRestart: a folder deleted on another device
// while it still holds messages waits for them to move out, and that wait
// is kept across a restart of the bridge.
func TestDoomedFoldersSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), StoreFile)
	open := func() *Bridge {
		b := &Bridge{store: openTestStore(t, path), cfg: Config{DeviceID: "laptop"}}
		if err := b.loadDoomed(ctx); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	m := folderWithMessage(t, b.store, "Old")
	deleted := &syncdoc.Folders{Entries: []syncdoc.Folder{{Name: "Old", Deleted: true, Updated: 1, Device: "phone"}}}
	if err := b.applyFolders(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	if err := b.reapFolders(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Mailbox(ctx, "Old"); err != nil {
		t.Fatalf("a folder with a message in it was deleted: %v", err)
	}
	b.store.Close()

	b = open()
	defer b.store.Close()
	if !b.doomed["Old"] {
		t.Fatalf("after a restart the bridge forgot the folder waiting to be deleted: %v", b.doomed)
	}
	if err := b.store.Expunge(ctx, m.ID, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	if err := b.reapFolders(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Mailbox(ctx, "Old"); err == nil {
		t.Fatal("the empty folder was not deleted")
	}
	if err := b.loadDoomed(ctx); err != nil || len(b.doomed) != 0 {
		t.Fatalf("still waiting after the delete: %v %v", b.doomed, err)
	}
}

// TestRecreatedFolderNotDoomed: a folder deleted on another device while
// it still holds messages, then created again before it empties, on that
// device or here, is the user's folder again: it is not deleted once it
// is empty.
func TestRecreatedFolderNotDoomed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	deleted := &syncdoc.Folders{Entries: []syncdoc.Folder{{Name: "Old", Deleted: true, Updated: 1, Device: "phone"}}}
	for _, where := range []string{"there", "here"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			b := &Bridge{store: openTestStore(t, filepath.Join(t.TempDir(), StoreFile)), cfg: Config{DeviceID: "laptop"}}
			defer b.store.Close()
			if err := b.loadDoomed(ctx); err != nil {
				t.Fatal(err)
			}
			m := folderWithMessage(t, b.store, "Old")
			if err := b.applyFolders(ctx, deleted); err != nil {
				t.Fatal(err)
			}
			if !b.doomed["Old"] {
				t.Fatal("a folder deleted elsewhere, not empty, is not waiting to be deleted")
			}
			switch where {
			case "there":
				again := &syncdoc.Folders{Entries: []syncdoc.Folder{{Name: "Old", Updated: 2, Device: "phone"}}}
				if err := b.applyFolders(ctx, again); err != nil {
					t.Fatal(err)
				}
				// Its message moves out as the other device's meta says.
				if err := b.store.Expunge(ctx, m.ID, mailstore.Remote); err != nil {
					t.Fatal(err)
				}
			case "here":
				// The user deletes it here too (an IMAP DELETE) and
				// creates it again, before the sync engine reaps it.
				if err := b.store.DeleteMailbox(ctx, "Old", mailstore.Local); err != nil {
					t.Fatal(err)
				}
				if _, err := b.store.CreateMailbox(ctx, "Old", mailstore.Local); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.reapFolders(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := b.store.Mailbox(ctx, "Old"); err != nil {
				t.Fatalf("the folder created again was deleted: %v", err)
			}
			if err := b.loadDoomed(ctx); err != nil || len(b.doomed) != 0 {
				t.Fatalf("still waiting to delete: %v %v", b.doomed, err)
			}
		})
	}
}

// TestDoomedFoldersOldState: the list of names earlier versions kept is
// read as the folders waiting, each the mailbox its name has now.
func TestDoomedFoldersOldState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := &Bridge{store: openTestStore(t, filepath.Join(t.TempDir(), StoreFile))}
	defer b.store.Close()
	if _, err := b.store.CreateMailbox(ctx, "Old", mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetState(ctx, doomedState, []byte(`["Gone","Old"]`)); err != nil {
		t.Fatal(err)
	}
	if err := b.loadDoomed(ctx); err != nil || !b.doomed["Old"] || !b.doomed["Gone"] {
		t.Fatalf("doomed %v, %v", b.doomed, err)
	}
	if err := b.reapFolders(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Mailbox(ctx, "Old"); err == nil {
		t.Fatal("the empty folder was not deleted")
	}
	if len(b.doomed) != 0 {
		t.Fatalf("still waiting: %v", b.doomed)
	}
}

// folderWithMessage creates the folder name with a message in it.
func folderWithMessage(t *testing.T, s *mailstore.Store, name string) mailstore.Message {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateMailbox(ctx, name, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	m, _, err := s.Add(ctx, mailstore.NewMessage{Key: "k1", Mailbox: name,
		MIME: []byte("Subject: still here\r\n\r\nbody\r\n")}, mailstore.Remote)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
