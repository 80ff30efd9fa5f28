package bridge

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"umbra/bridge/mailstore"
)

// State names of the spam filter (spam.go). Everything lives in the
// store's state table, so inside the encrypted database.
const (
	spamOwnState  = "spam:own"    // this device's document plaintext (blob)
	spamPushState = "spam:pushed" // "0" while spamOwnState holds changes not yet pushed
	spamDocsState = "spam:docs"   // ids of the other devices' documents, space-separated
	spamDocState  = "spam:doc:"   // + id: another device's document plaintext (blob)
	spamMsgState  = "spam:msg:"   // + message key: "j", filed into Junk (trainRecord)
	safeHTMLState = "setting:safe-html"
	blobChunk     = mailstore.MaxStateSize - 1<<10
	maxBlobChunks = 4096 // 256 MiB: above any bounded model
)

// putBlob stores value, which may exceed one state value, under name: as
// chunks of the generation other than the current one, then a manifest
// naming the new generation. The manifest's write is the commit point, so
// a crash midway leaves the old value whole.
func putBlob(ctx context.Context, s *mailstore.Store, name string, value []byte) error {
	gen := 0
	if old, _, err := blobManifest(ctx, s, name); err == nil {
		gen = 1 - old
	}
	n := (len(value) + blobChunk - 1) / blobChunk
	if n > maxBlobChunks {
		return fmt.Errorf("bridge: state %s: %d bytes is too large", name, len(value))
	}
	for i := range n {
		chunk := value[i*blobChunk : min(len(value), (i+1)*blobChunk)]
		if err := s.SetState(ctx, chunkName(name, gen, i), chunk); err != nil {
			return err
		}
	}
	return s.SetState(ctx, name, fmt.Appendf(nil, "%d %d %d", gen, n, len(value)))
}

// getBlob reads what putBlob stored; ErrNotFound when nothing was.
func getBlob(ctx context.Context, s *mailstore.Store, name string) ([]byte, error) {
	gen, n, err := blobManifest(ctx, s, name)
	if err != nil {
		return nil, err
	}
	var out []byte
	for i := range n {
		chunk, err := s.GetState(ctx, chunkName(name, gen, i))
		if err != nil {
			return nil, err
		}
		out = append(out, chunk...)
	}
	return out, nil
}

func blobManifest(ctx context.Context, s *mailstore.Store, name string) (gen, n int, err error) {
	v, err := s.GetState(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(v))
	if len(f) == 3 {
		gen, err = strconv.Atoi(f[0])
		if err == nil {
			n, err = strconv.Atoi(f[1])
		}
	}
	if len(f) != 3 || err != nil || gen < 0 || gen > 1 || n < 0 || n > maxBlobChunks {
		return 0, 0, fmt.Errorf("bridge: state %s: bad manifest %q", name, v)
	}
	return gen, n, nil
}

func chunkName(name string, gen, i int) string { return fmt.Sprintf("%s#%d#%d", name, gen, i) }
