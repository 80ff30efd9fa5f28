package dmap

import (
	"crypto/ed25519"
	"errors"
	"net/http"
	"time"

	"umbra/signet"
)

// POST /register (spec §5.1).
func (h *handler) register(w http.ResponseWriter, r *http.Request) {
	reg, err := readJSON(h, w, r, MaxBackupJSON, decodeRegister)
	if err == nil {
		err = h.checkDomain(reg.Address)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	reg.Device.Created = h.o.Now()
	sig, err := h.b.Register(r.Context(), reg)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, registerResponse{Signet: b64.EncodeToString(sig), DeviceID: reg.Device.ID})
}

// POST /enroll (spec §5.2): a device proves with the user's current
// signing key, or the recovery key, that it may join the account.
func (h *handler) enroll(w http.ResponseWriter, r *http.Request) {
	p, err := readJSON(h, w, r, MaxJSON, decodeEnroll)
	if err == nil {
		err = h.checkDomain(p.address)
	}
	bs := h.proofBuckets(r, p.key)
	if err == nil {
		err = h.limited(bs...)
	}
	if err == nil {
		err = h.enrollProof(r, p)
		if errors.Is(err, ErrLoginFailed) {
			h.failed(bs...)
		}
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	d := Device{ID: DeviceID(p.key), Key: p.key, Name: p.name, Created: h.o.Now()}
	if err := h.b.AddDevice(r.Context(), p.address, d); err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, deviceIDResponse{DeviceID: d.ID})
}

func (h *handler) enrollProof(r *http.Request, p proof) error {
	if err := h.takeChallenge(r.Context(), p, PurposeEnroll, p.key); err != nil {
		return err
	}
	raw, err := h.b.Signet(r.Context(), p.address, signet.Fingerprint{})
	if errors.Is(err, ErrNotFound) {
		return ErrLoginFailed
	}
	if err != nil {
		return err
	}
	u, err := signet.ParseUser(raw)
	if err != nil || u.Address != p.address {
		return ErrLoginFailed
	}
	key := u.SigningKey
	if p.recovery {
		key = u.RecoveryKey
	}
	if !ed25519.Verify(key, EnrollMessage(p.challenge, h.o.Domain, p.address, p.key), p.signature) {
		return ErrLoginFailed
	}
	return nil
}

// GET /devices (spec §5.3).
func (h *handler) devices(w http.ResponseWriter, r *http.Request, s Session) {
	ds, err := h.b.Devices(r.Context(), s.Account)
	if err != nil {
		h.fail(w, err)
		return
	}
	resp := devicesResponse{Devices: make([]deviceWire, 0, len(ds))}
	for _, d := range ds {
		dw := deviceWire{ID: d.ID, Name: d.Name, Created: formatTime(d.Created), Current: d.ID == s.DeviceID}
		if !d.LastSeen.IsZero() {
			dw.LastSeen = formatTime(d.LastSeen)
		}
		resp.Devices = append(resp.Devices, dw)
	}
	writeJSON(w, http.StatusOK, resp)
}

func formatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// deviceIDParam checks the {id} of /devices/{id}: 16 base64url characters.
func deviceIDParam(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) != 16 {
		return "", ErrNotFound.With("no device %q", clip(id, 40))
	}
	if _, err := b64.DecodeString(id); err != nil {
		return "", ErrNotFound.With("no device %q", clip(id, 40))
	}
	return id, nil
}

// PATCH /devices/{id} (spec §5.4).
func (h *handler) renameDevice(w http.ResponseWriter, r *http.Request, s Session) {
	id, err := deviceIDParam(r)
	var name string
	if err == nil {
		name, err = readJSON(h, w, r, MaxJSON, decodeRename)
	}
	if err == nil {
		err = h.b.RenameDevice(r.Context(), s.Account, id, name)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DELETE /devices/{id} (spec §5.5).
func (h *handler) revokeDevice(w http.ResponseWriter, r *http.Request, s Session) {
	id, err := deviceIDParam(r)
	if err == nil {
		err = h.b.RevokeDevice(r.Context(), s.Account, id)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /rotate (spec §5.7).
func (h *handler) rotate(w http.ResponseWriter, r *http.Request, s Session) {
	req, err := readJSON(h, w, r, MaxJSON, decodeRotate)
	if err == nil && req.Address != s.Account {
		// Isolation (spec §2.3): an account rotates only its own chain.
		err = ErrForbidden.With("the signing request names another account")
	}
	var sig []byte
	if err == nil {
		sig, err = h.b.Rotate(r.Context(), s.Account, req)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, signetResponse{Signet: b64.EncodeToString(sig)})
}
