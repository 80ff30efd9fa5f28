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

	"umbra/dmap"
	"umbra/dmtp"
	"umbra/keyfile"
	"umbra/keylog"
	"umbra/provider/store"
	"umbra/signet"
)

// LogKeyFile is the Ed25519 key that signs the checkpoints of the
// domain's transparency log (docs/spec/keylog.md §3.2), and nothing else.
const LogKeyFile = "log.key"

// openKeylog loads the log key and returns the domain's log over the
// store. The organisation signet names the log key (CreateOrg makes both);
// a provider made before the log existed has a signet that names none,
// and makes its key on its first start.
func openKeylog(dir string, org *signet.Org, st store.Store) (*keylog.Log, ed25519.PublicKey, error) {
	path := filepath.Join(dir, LogKeyFile)
	key, err := keyfile.ReadSigning(path)
	if errors.Is(err, os.ErrNotExist) && org.LogKey == "" {
		if _, key, err = ed25519.GenerateKey(rand.Reader); err == nil {
			err = writeLogKey(path, org.Domain, key)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("provider: log key: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	if org.LogKey != "" {
		if vk, err := keylog.VerifierKey(org.Domain, pub); err != nil || vk != org.LogKey {
			return nil, nil, fmt.Errorf("provider: %s is not the log key the organisation signet names (%s)", path, org.LogKey)
		}
	}
	signer, err := keylog.NewSigner(org.Domain, key)
	if err != nil {
		return nil, nil, err
	}
	return keylog.New(org.Domain, keylogStorage{st.Keylog()}, signer), pub, nil
}

func writeLogKey(path, domain string, key ed25519.PrivateKey) error {
	return keyfile.WriteSigning(path, key, map[string]string{"Purpose": "signs the checkpoints of the transparency log of " + domain})
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

// answerLog answers a query of the log (docs/spec/keylog.md §8), for DMTP
// LOG and DMAP GET log alike.
func (p *Provider) answerLog(ctx context.Context, query string) ([]byte, error) {
	q, err := keylog.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	return p.keylog.Answer(ctx, q)
}

// Log answers DMTP LOG (docs/spec/dmtp.md §5.9).
func (s *session) Log(args string) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	b, err := s.p.answerLog(ctx, args)
	switch {
	case errors.Is(err, keylog.ErrQuery):
		return nil, &dmtp.Error{Code: 501, Enhanced: "5.5.4", Message: err.Error()}
	case errors.Is(err, keylog.ErrRange), errors.Is(err, keylog.ErrNotFound):
		return nil, &dmtp.Error{Code: 550, Enhanced: "5.1.1", Message: err.Error()}
	}
	return b, err
}

// Log answers DMAP GET log (docs/spec/dmap.md §9.4).
func (b dmapBackend) Log(ctx context.Context, query string) ([]byte, error) {
	out, err := b.p.answerLog(ctx, query)
	switch {
	case errors.Is(err, keylog.ErrQuery):
		return nil, fmt.Errorf("%w: %v", dmap.ErrBadField, err)
	case errors.Is(err, keylog.ErrRange), errors.Is(err, keylog.ErrNotFound):
		return nil, fmt.Errorf("%w: %v", dmap.ErrNotFound, err)
	}
	return out, err
}
