package bridge

import (
	"context"
	"fmt"

	"umbra/bridge/mailstore"
	"umbra/searchquery"
	"umbra/vault"
)

// Search runs q on the store of the account in dir (`umbra search`).
// Works while the bridge runs: the store is SQLite in WAL mode, where a
// reader in another process sees the last commit and never blocks the
// bridge's writer.
func Search(ctx context.Context, dir string, keys *vault.Keys, q searchquery.Node, opt mailstore.QueryOptions) ([]mailstore.Hit, error) {
	st, err := openStore(dir, keys)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Query(ctx, q, opt)
}

// Tags lists the tags (IMAP keywords) of the account's messages with
// their counts (`umbra tags`). Works while the bridge runs.
func Tags(ctx context.Context, dir string, keys *vault.Keys) ([]mailstore.TagCount, error) {
	st, err := openStore(dir, keys)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.TagCounts(ctx)
}

// Tag adds the tags add and removes the tags remove (IMAP keywords, RFC
// 9051 §2.3.2) on every message q matches (`umbra tag`, `umbra untag`),
// and returns how many messages changed. Each change is a local one,
// pending until the bridge pushes it to the provider, as a mail client's
// STORE would be: other devices get it at their next pull. A running
// bridge takes the change within a second (watchOthers): its IMAP clients
// hear of the new flags and it pushes them.
func Tag(ctx context.Context, dir string, keys *vault.Keys, q searchquery.Node, add, remove []string) (int, error) {
	st, err := openStore(dir, keys)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	hits, err := st.Query(ctx, q, mailstore.QueryOptions{})
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, h := range hits {
		m, err := st.ChangeFlags(ctx, h.ID, mailstore.FlagChange{Add: add, Remove: remove}, mailstore.Local)
		if err != nil {
			return changed, fmt.Errorf("tag message %s: %w", h.Key, err)
		}
		if m.ModSeq != h.ModSeq {
			changed++
		}
	}
	return changed, nil
}
