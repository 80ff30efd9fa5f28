package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"umbra/atomicfile"
	"umbra/dmap"
	"umbra/signet"
)

// The files of an account directory. Only the vault holds secrets.
const (
	accountFile = "account.json" // accountInfo, JSON
	vaultFile   = "vault"        // the sealed keys (docs/spec/vault.md)
	signetFile  = "user.signet"  // the current certified signet, PEM
	// maxAccountFile bounds the account file: a few hundred bytes in use.
	maxAccountFile = 4096
)

// accountInfo is the account file: what a device needs besides its keys to
// reach its provider. None of it is secret.
type accountInfo struct {
	Version  int       `json:"version"`
	Address  string    `json:"address"`
	Server   string    `json:"server"` // DMAP base URL
	Pin      string    `json:"pin"`    // standard base64 of the TLS pin; "" for WebPKI
	Mode     dmap.Mode `json:"mode"`
	DeviceID string    `json:"device_id"`
}

// errAccountFile reports a malformed account file.
var errAccountFile = errors.New("malformed account file")

// parseAccountInfo decodes and checks an account file: one JSON object,
// no unknown or repeated-by-mistake members, every field valid.
func parseAccountInfo(data []byte) (*accountInfo, error) {
	if len(data) > maxAccountFile {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errAccountFile, len(data), maxAccountFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a accountInfo
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %v", errAccountFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", errAccountFile)
	}
	if a.Version != 1 {
		return nil, fmt.Errorf("%w: version %d, want 1", errAccountFile, a.Version)
	}
	if err := signet.CheckAddress(a.Address); err != nil {
		return nil, fmt.Errorf("%w: address: %v", errAccountFile, err)
	}
	if u, err := url.Parse(a.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: server %q is not an https URL", errAccountFile, a.Server)
	}
	if _, err := a.pin(); err != nil {
		return nil, fmt.Errorf("%w: %v", errAccountFile, err)
	}
	if a.Mode != dmap.ModeParanoid && a.Mode != dmap.ModeCautious {
		return nil, fmt.Errorf("%w: mode %q, want paranoid or cautious", errAccountFile, a.Mode)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(a.DeviceID); err != nil || len(a.DeviceID) != 16 {
		return nil, fmt.Errorf("%w: device id %q is not 16 base64url characters", errAccountFile, a.DeviceID)
	}
	return &a, nil
}

// pin decodes the TLS pin; nil when there is none.
func (a *accountInfo) pin() ([]byte, error) {
	if a.Pin == "" {
		return nil, nil
	}
	return decodePin(a.Pin)
}

// decodePin decodes a TLS pin as the _dime record and --pin write it:
// standard base64 of a SHA-256 (docs/spec/dns.md).
func decodePin(s string) ([]byte, error) {
	p, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(p) != 32 {
		return nil, fmt.Errorf("TLS pin %q is not standard base64 of 32 bytes", s)
	}
	return p, nil
}

// defaultAccountDir is $HOME/.umbra/ADDRESS.
func defaultAccountDir(address string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --dir given and no home directory: %w", err)
	}
	return filepath.Join(home, ".umbra", address), nil
}

// findAccountDir returns dir, or without one the only account under
// $HOME/.umbra.
func findAccountDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --dir given and no home directory: %w", err)
	}
	found, _ := filepath.Glob(filepath.Join(home, ".umbra", "*", accountFile))
	switch len(found) {
	case 1:
		return filepath.Dir(found[0]), nil
	case 0:
		return "", usageErrorf("no account under %s; give --dir", filepath.Join(home, ".umbra"))
	default:
		return "", usageErrorf("%d accounts under %s; say which with --dir", len(found), filepath.Join(home, ".umbra"))
	}
}

// newAccountDir makes dir (mode 0700) for a new account. It refuses a
// directory that already holds files, so no account is ever overwritten.
// remove undoes it when creation fails before the account exists.
func newAccountDir(dir string) (remove func(), err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return nil, fmt.Errorf("%s already holds files (an account?); give another --dir", dir)
	case err == nil:
		// An empty directory the user gave stays; only what was put in it
		// goes.
		empty := func() {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		return empty, os.Chmod(dir, 0o700)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	return func() { os.RemoveAll(dir) }, nil
}

// writeAccountInfo writes the account file of dir.
func writeAccountInfo(dir string, a *accountInfo) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Replace(filepath.Join(dir, accountFile), append(data, '\n'))
}

// readAccountInfo reads the account file of dir.
func readAccountInfo(dir string) (*accountInfo, error) {
	f, err := os.Open(filepath.Join(dir, accountFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no account (no %s)", dir, accountFile)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAccountFile+1))
	if err != nil {
		return nil, err
	}
	a, err := parseAccountInfo(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, accountFile), err)
	}
	return a, nil
}
