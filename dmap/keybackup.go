package dmap

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
)

const labelDecoySalt = "umbra-dmap-v1 decoy salt"

// decoySalt is the salt served for an address without a key backup (spec
// §6.3): stable for the address, unpredictable without DecoyKey, so the
// answer looks like a real account's and does not reveal which addresses
// are cautious accounts.
func (h *handler) decoySalt(address string) []byte {
	m := hmac.New(sha256.New, h.o.DecoyKey)
	m.Write([]byte(labelDecoySalt + "\x00"))
	m.Write([]byte(address))
	return m.Sum(nil)[:MinBackupSalt]
}

// POST /keybackup/challenge (spec §6.3): the salt and parameters to
// derive the backup access key with, and a challenge to sign with it.
func (h *handler) backupChallenge(w http.ResponseWriter, r *http.Request) {
	address, err := readJSON(h, w, r, MaxJSON, decodeBackupChallenge)
	if err == nil {
		err = h.checkDomain(address)
	}
	var salt []byte
	params := MinBackupParams()
	if err == nil {
		var kb KeyBackup
		kb, err = h.b.KeyBackup(r.Context(), address)
		switch {
		case errors.Is(err, ErrNotFound):
			salt, err = h.decoySalt(address), nil
		case err == nil:
			salt, params = kb.Salt, kb.Params
		}
	}
	var c Challenge
	if err == nil {
		c, err = h.newChallenge(r, Challenge{Purpose: PurposeKeyBackup, Address: address})
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, backupChallengeResponse{
		Challenge: b64.EncodeToString(c.Value[:]),
		ExpiresIn: seconds(h.o.ChallengeTTL),
		Salt:      b64.EncodeToString(salt),
		Params:    paramsWire{Time: params.Time, MemoryKiB: params.MemoryKiB, Threads: params.Threads},
	})
}

// POST /keybackup/fetch (spec §6.3): the sealed vault, for a signature
// by the backup access key. Failures count against the rate limits like
// failed logins: each is one online password guess.
func (h *handler) backupFetch(w http.ResponseWriter, r *http.Request) {
	p, err := readJSON(h, w, r, MaxJSON, decodeBackupFetch)
	if err == nil {
		err = h.checkDomain(p.address)
	}
	// Each failure is one online guess of the password: the account's
	// bucket is what bounds guesses from many addresses (spec §4.5).
	bs := []counter{{h.addr, h.o.ClientAddress(r)}, {h.acct, p.address}}
	if err == nil {
		err = h.limited(bs...)
	}
	var kb KeyBackup
	if err == nil {
		kb, err = h.backupProof(r, p)
		if errors.Is(err, ErrLoginFailed) {
			h.failed(bs...)
		}
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, backupFetchResponse{Vault: b64.EncodeToString(kb.Vault)})
}

func (h *handler) backupProof(r *http.Request, p proof) (KeyBackup, error) {
	if err := h.takeChallenge(r.Context(), p, PurposeKeyBackup, nil); err != nil {
		return KeyBackup{}, err
	}
	kb, err := h.b.KeyBackup(r.Context(), p.address)
	if errors.Is(err, ErrNotFound) {
		return KeyBackup{}, ErrLoginFailed
	}
	if err != nil {
		return KeyBackup{}, err
	}
	if !ed25519.Verify(kb.AccessKey, KeyBackupMessage(p.challenge, h.o.Domain, p.address, kb.AccessKey), p.signature) {
		return KeyBackup{}, ErrLoginFailed
	}
	return kb, nil
}

// PUT /keybackup (spec §6.5): replace the backup after a password change.
func (h *handler) putBackup(w http.ResponseWriter, r *http.Request, s Session) {
	kb, err := readJSON(h, w, r, MaxBackupJSON, decodeKeyBackup)
	if err == nil {
		err = h.b.SetKeyBackup(r.Context(), s.Account, kb)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
