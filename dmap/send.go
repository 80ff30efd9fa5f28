package dmap

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"

	"umbra/signet"
)

// POST /send (spec §10): one sealed D/MIME message for one recipient.
func (h *handler) send(w http.ResponseWriter, r *http.Request, s Session) {
	msg, release, err := h.readBody(w, r, "application/octet-stream", h.o.MaxMessage)
	defer release()
	var res Sent
	if err == nil {
		res, err = h.b.Send(r.Context(), s.Account, msg)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	status := "queued"
	if res.Delivered {
		status = "delivered"
	}
	writeJSON(w, http.StatusAccepted, sendResponse{Status: status, Digest: hex.EncodeToString(res.Digest[:])})
}

// fingerprintParam parses an optional fingerprint parameter in its
// machine form (43 base64url characters).
func fingerprintParam(name, s string) (signet.Fingerprint, error) {
	if s == "" {
		return signet.Fingerprint{}, nil
	}
	fp, err := signet.ParseFingerprint(s)
	if err != nil || len(s) != 43 {
		return fp, ErrBadField.With("%s must be a fingerprint in its 43-character base64url form", name)
	}
	return fp, nil
}

// GET /signet?name=…[&fp=…] (spec §9.1): the look-up proxy. Signets are
// published data, so any name may be asked for; the provider asks other
// domains itself, so they never learn the user's network address.
func (h *handler) signet(w http.ResponseWriter, r *http.Request, _ Session) {
	q, err := query(r.URL.RawQuery, "name", "fp")
	var name string
	var fp signet.Fingerprint
	if err == nil {
		name = q.Get("name")
		if signet.CheckAddress(name) != nil && signet.CheckDomain(name) != nil {
			err = ErrBadField.With("name must be an address or a domain")
		}
	}
	if err == nil {
		fp, err = fingerprintParam("fp", q.Get("fp"))
	}
	var sig []byte
	if err == nil {
		sig, err = h.b.Signet(r.Context(), name, fp)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(sig)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(sig)
}

// GET /log?q=… (spec §9.4): a query of this domain's transparency log.
func (h *handler) log(w http.ResponseWriter, r *http.Request, _ Session) {
	q, err := query(r.URL.RawQuery, "q")
	var out []byte
	if err == nil {
		out, err = h.b.Log(r.Context(), q.Get("q"))
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// GET /history?address=…[&start=…][&stop=…] (spec §9.2).
func (h *handler) history(w http.ResponseWriter, r *http.Request, _ Session) {
	q, err := query(r.URL.RawQuery, "address", "start", "stop")
	var address string
	var start, stop signet.Fingerprint
	if err == nil {
		address, err = addressField(q.Get("address"))
	}
	if err == nil {
		start, err = fingerprintParam("start", q.Get("start"))
	}
	if err == nil {
		stop, err = fingerprintParam("stop", q.Get("stop"))
	}
	var list [][]byte
	if err == nil {
		list, err = h.b.History(r.Context(), address, start, stop)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	if len(list) > MaxHistoryPage {
		list = list[:MaxHistoryPage]
		w.Header().Set("Umbra-More", "true")
	}
	body := encodeFrames(list)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// encodeFrames is the history body of spec §9.2: for each signet, its
// length as a 4-byte big-endian integer, then its bytes.
func encodeFrames(list [][]byte) []byte {
	var b []byte
	for _, s := range list {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodeFrames parses a history body: at most MaxHistoryPage frames, each
// of 1 to signet.MaxSize bytes, nothing left over.
func decodeFrames(b []byte) ([][]byte, error) {
	var list [][]byte
	for len(b) > 0 {
		if len(list) == MaxHistoryPage {
			return nil, fmt.Errorf("dmap: history: more than %d signets", MaxHistoryPage)
		}
		if len(b) < 4 {
			return nil, fmt.Errorf("dmap: history: %d bytes left, too few for a length", len(b))
		}
		n := binary.BigEndian.Uint32(b)
		if n == 0 || n > signet.MaxSize {
			return nil, fmt.Errorf("dmap: history: signet %d has length %d, want 1 to %d", len(list)+1, n, signet.MaxSize)
		}
		if uint64(len(b)-4) < uint64(n) {
			return nil, fmt.Errorf("dmap: history: signet %d truncated: %d of %d bytes", len(list)+1, len(b)-4, n)
		}
		list = append(list, b[4:4+n])
		b = b[4+n:]
	}
	return list, nil
}
