// Package keyfile reads and writes the private key files of an
// organisation (POK, SOK, organisation encryption key) and signet files.
//
// A private key file is one PEM block holding the key's 32-byte seed, with
// headers that say what the key is for; every file is created with mode
// 0600 and never overwritten, so a slip of the operator cannot destroy a key. A signet
// file is a PEM block "UMBRA SIGNET" around the signet's exact bytes; readers
// also take the raw binary form. Functions are safe for concurrent use on
// different paths.
package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"umbra/atomicfile"
	"umbra/signet"
)

// PEM block types.
const (
	TypeSigning    = "UMBRA ED25519 PRIVATE KEY"
	TypeEncryption = "UMBRA HPKE PRIVATE KEY"
	TypeSignet     = "UMBRA SIGNET"
)

// maxFile bounds what a reader loads: a signet is at most 64 KiB, and a PEM
// around it a third more.
const maxFile = signet.MaxSize*4/3 + 4096

// WriteSigning creates path holding the Ed25519 key k. headers say what the
// key is (e.g. "Role": "POK", "Domain": "example.org").
func WriteSigning(path string, k ed25519.PrivateKey, headers map[string]string) error {
	return create(path, &pem.Block{Type: TypeSigning, Headers: headers, Bytes: k.Seed()})
}

// WriteEncryption creates path holding the HPKE private key k.
func WriteEncryption(path string, k hpke.PrivateKey, headers map[string]string) error {
	seed, err := k.Bytes()
	if err != nil {
		return fmt.Errorf("keyfile: %s: %w", path, err)
	}
	h := map[string]string{"KEM": "ML-KEM-768+X25519"}
	for k, v := range headers {
		h[k] = v
	}
	return create(path, &pem.Block{Type: TypeEncryption, Headers: h, Bytes: seed})
}

// WriteSignet creates path holding the signet bytes b as PEM.
func WriteSignet(path string, b []byte, headers map[string]string) error {
	return create(path, &pem.Block{Type: TypeSignet, Headers: headers, Bytes: b})
}

// ReplaceSignet writes the signet bytes b as PEM to path, replacing the
// file there: the account's newer signet after a rotation.
func ReplaceSignet(path string, b []byte, headers map[string]string) error {
	if err := atomicfile.Replace(path, pem.EncodeToMemory(&pem.Block{Type: TypeSignet, Headers: headers, Bytes: b})); err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	return nil
}

// ReadSigning reads an Ed25519 private key file.
func ReadSigning(path string) (ed25519.PrivateKey, error) {
	b, err := readBlock(path, TypeSigning)
	if err != nil {
		return nil, err
	}
	if len(b.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("keyfile: %s: seed is %d bytes, want %d", path, len(b.Bytes), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(b.Bytes), nil
}

// ReadEncryption reads an HPKE private key file.
func ReadEncryption(path string) (hpke.PrivateKey, error) {
	b, err := readBlock(path, TypeEncryption)
	if err != nil {
		return nil, err
	}
	k, err := signet.KEM().NewPrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %s: %w", path, err)
	}
	return k, nil
}

// ReadSignet returns the bytes of a signet file, PEM or raw binary. It does
// not parse the signet.
func ReadSignet(path string) ([]byte, error) {
	raw, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(raw); blk != nil {
		if blk.Type != TypeSignet {
			return nil, fmt.Errorf("keyfile: %s: PEM block %q, want %q", path, blk.Type, TypeSignet)
		}
		return blk.Bytes, nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("-----BEGIN")) {
		return nil, fmt.Errorf("keyfile: %s: damaged PEM", path)
	}
	return raw, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("keyfile: read %s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("keyfile: %s: larger than %d bytes", path, maxFile)
	}
	return b, nil
}

func readBlock(path, typ string) (*pem.Block, error) {
	raw, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	b, rest := pem.Decode(raw)
	if b == nil {
		return nil, fmt.Errorf("keyfile: %s: no PEM block", path)
	}
	if b.Type != typ {
		return nil, fmt.Errorf("keyfile: %s: PEM block %q, want %q", path, b.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("keyfile: %s: data after the PEM block", path)
	}
	return b, nil
}

// create writes a new file, failing if it exists, through atomicfile so
// the key survives a crash right after the command returns.
func create(path string, b *pem.Block) error {
	if err := atomicfile.Create(path, pem.EncodeToMemory(b)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keyfile: %s already exists; refusing to overwrite a key", path)
		}
		return fmt.Errorf("keyfile: %w", err)
	}
	return nil
}
