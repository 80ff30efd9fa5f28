package testnet

import (
	"bytes"
	"context"
	"fmt"

	"umbra/dmime"
	"umbra/provider/store"
)

// MailDigests counts, by message digest, the live mail documents of
// address in st: a count above 1 is a message stored twice.
func MailDigests(ctx context.Context, st store.Store, address string) (map[store.MessageID]int, error) {
	got := map[store.MessageID]int{}
	var since int64
	for {
		page, err := st.Mailbox().Changes(ctx, address, since, store.MaxPage)
		if err != nil {
			return nil, fmt.Errorf("testnet: changes of %s: %w", address, err)
		}
		for _, c := range page {
			since = c.Seq
			if c.Kind != store.KindMail || c.Deleted {
				continue
			}
			doc, err := st.Mailbox().Get(ctx, address, c.DocID)
			if err != nil {
				return nil, fmt.Errorf("testnet: document %s of %s: %w", c.DocID, address, err)
			}
			l, err := dmime.Inspect(bytes.NewReader(doc.Data))
			if err != nil {
				return nil, fmt.Errorf("testnet: document %s of %s: %w", c.DocID, address, err)
			}
			got[store.MessageID(l.Digest)]++
		}
		if len(page) < store.MaxPage {
			return got, nil
		}
	}
}
