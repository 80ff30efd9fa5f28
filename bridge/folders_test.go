package bridge

import (
	"context"
	"path/filepath"
	"testing"

	"umbra/bridge/mailstore"
)

// TestDoomedFoldersSurviveRestart: a folder deleted on another device
// while it still holds messages waits for them to move out, and that wait
// is kept across a restart of the bridge.
func TestDoomedFoldersSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), StoreFile)
	open := func() *Bridge {
		b := &Bridge{store: openTestStore(t, path)}
		if err := b.loadDoomed(ctx); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	if _, err := b.store.CreateMailbox(ctx, "Old", mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	m, _, err := b.store.Add(ctx, mailstore.NewMessage{Key: "k1", Mailbox: "Old",
		MIME: []byte("Subject: still here\r\n\r\nbody\r\n")}, mailstore.Remote)
	if err != nil {
		t.Fatal(err)
	}
	b.doomed["Old"] = true
	if err := b.saveDoomed(ctx); err != nil {
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
