package bridge

import (
	"context"
	"fmt"

	"umbra/bridge/syncdoc"
	"umbra/dmap"
)

// PendingMail counts the account's delivered mail that no device has
// converted to its storage form yet (docs/spec/sync.md §7.1): documents
// of kind mail, still sealed to one of the account's encryption keys. A
// retired encryption key may be destroyed only when this is zero (DESIGN
// §4: forward secrecy by rotation; docs/spec/vault.md §5): until then
// some mail can be opened only with it. It walks the whole change feed,
// which lists each live document once.
func PendingMail(ctx context.Context, cl *dmap.Client) (int, error) {
	n := 0
	for since := int64(0); ; {
		p, err := cl.Changes(ctx, since, 0)
		if err != nil {
			return 0, fmt.Errorf("list the documents waiting at the provider: %w", err)
		}
		for _, ch := range p.Changes {
			if ch.Kind == syncdoc.KindMail && !ch.Deleted {
				n++
			}
		}
		if !p.More || p.Next <= since {
			return n, nil
		}
		since = p.Next
	}
}
