package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"

	"umbra/keyfile"
	"umbra/keylog"
	"umbra/provider/store"
)

// LogKeyFile is the Ed25519 key that signs the checkpoints of the
// domain's transparency log (docs/spec/keylog.md §3.2), and nothing else.
const LogKeyFile = "log.key"

// openKeylog loads the log key, making it on the first start of a
// provider made before the log existed, and returns the domain's log
// over the store.
func openKeylog(dir, domain string, st store.Store) (*keylog.Log, ed25519.PublicKey, error) {
	path := filepath.Join(dir, LogKeyFile)
	key, err := keyfile.ReadSigning(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, nil, err
		}
		err = keyfile.WriteSigning(path, key, map[string]string{"Purpose": "signs the checkpoints of the transparency log of " + domain})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("provider: log key: %w", err)
	}
	signer, err := keylog.NewSigner(domain, key)
	if err != nil {
		return nil, nil, err
	}
	return keylog.New(domain, keylogStorage{st.Keylog()}, signer), key.Public().(ed25519.PublicKey), nil
}

// Keylog returns the domain's transparency log.
func (p *Provider) Keylog() *keylog.Log { return p.keylog }

// LogVerifierKey is the note verifier key of the log's checkpoints.
func (p *Provider) LogVerifierKey() (string, error) {
	return keylog.VerifierKey(p.domain, p.logKey)
}

// keylogStorage is the store's Keylog as a keylog.Storage.
type keylogStorage struct{ k store.Keylog }

func (s keylogStorage) Size(ctx context.Context) (int64, error) { return s.k.Size(ctx) }

func (s keylogStorage) ReadHashes(ctx context.Context, idx []int64) ([]tlog.Hash, error) {
	hs, err := s.k.ReadHashes(ctx, idx)
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out, err
}

func (s keylogStorage) Append(ctx context.Context, n int64, record []byte, hashes []tlog.Hash) error {
	raw := make([][32]byte, len(hashes))
	for i, h := range hashes {
		raw[i] = h
	}
	err := s.k.Append(ctx, n, record, raw)
	if errors.Is(err, store.ErrConflict) { // another node appended first
		return fmt.Errorf("%w: %w", keylog.ErrConflict, err)
	}
	return err
}

func (s keylogStorage) Record(ctx context.Context, n int64) ([]byte, error) {
	return s.k.Record(ctx, n)
}
