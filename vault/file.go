package vault

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"umbra/atomicfile"
)

// Create seals keys under password with parameters p and writes them to a
// new file at path with mode 0600. It refuses to replace an existing file:
// the error then wraps fs.ErrExist.
func Create(path string, password []byte, keys *Keys, p Params) error {
	data, err := seal(rand.Reader, productionBounds, password, keys, p)
	if err == nil {
		err = atomicfile.Create(path, data)
	}
	if err != nil {
		return fmt.Errorf("vault: create %s: %w", path, err)
	}
	return nil
}

// Open reads the vault at path and opens it with password. See Unseal for
// the errors.
func Open(path string, password []byte) (*Keys, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("vault: open %s: %w", path, err)
	}
	k, err := unseal(data, password, productionBounds)
	if err != nil {
		return nil, fmt.Errorf("vault: open %s: %w", path, err)
	}
	return k, nil
}

// Save replaces the keys in the existing vault at path, keeping its
// password and parameters, with a fresh salt and nonce. It first opens the
// vault with password, so a mistyped password gives ErrWrongPassword and
// leaves the file as it was instead of locking the keys under the typo.
// That costs a second Argon2id run; updates are rare (key rotation).
func Save(path string, password []byte, keys *Keys) error {
	if err := save(path, password, keys); err != nil {
		return fmt.Errorf("vault: save %s: %w", path, err)
	}
	return nil
}

func save(path string, password []byte, keys *Keys) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	h, err := parseHeader(data, productionBounds)
	if err != nil {
		return err
	}
	old, err := unseal(data, password, productionBounds)
	if err != nil {
		return err
	}
	old.Zero()
	data, err = seal(rand.Reader, productionBounds, password, keys, h.params)
	if err != nil {
		return err
	}
	return atomicfile.Replace(path, data)
}

// ChangePassword re-seals the vault at path under newPassword with
// parameters p (pass DefaultParams() to move an old vault to today's
// defaults), replacing the file atomically. A wrong oldPassword gives
// ErrWrongPassword and changes nothing.
func ChangePassword(path string, oldPassword, newPassword []byte, p Params) error {
	if err := changePassword(path, oldPassword, newPassword, p); err != nil {
		return fmt.Errorf("vault: change password of %s: %w", path, err)
	}
	return nil
}

func changePassword(path string, oldPassword, newPassword []byte, p Params) error {
	// Check what needs no key derivation first.
	if len(newPassword) == 0 {
		return fmt.Errorf("new password: %w", ErrEmptyPassword)
	}
	if err := p.check(productionBounds); err != nil {
		return err
	}
	data, err := readFile(path)
	if err != nil {
		return err
	}
	keys, err := unseal(data, oldPassword, productionBounds)
	if err != nil {
		return err
	}
	defer keys.Zero()
	data, err = seal(rand.Reader, productionBounds, newPassword, keys, p)
	if err != nil {
		return err
	}
	return atomicfile.Replace(path, data)
}

// readFile reads at most MaxFileSize+1 bytes, enough for parseHeader to
// reject an oversize file without reading all of it.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}
