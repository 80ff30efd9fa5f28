package dmap

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"

	"umbra/signet"
)

// POST /legacy?to=ADDRESS (spec §10.2): one plain RFC 5322 message for one
// recipient outside Umbra, which the provider relays over SMTP. The
// provider reads this message: that is the price of legacy mail, said to
// the user in the Sent copy's Umbra-Security field.
func (h *handler) sendLegacy(w http.ResponseWriter, r *http.Request, s Session) {
	q, err := query(r.URL.RawQuery, "to")
	var to string
	if err == nil {
		to = strings.ToLower(q.Get("to"))
		if signet.CheckAddress(to) != nil {
			err = ErrBadField.With("to must be one address")
		}
	}
	var msg *io.SectionReader
	if err == nil {
		var release func()
		msg, release, err = h.readBody(w, r, "message/rfc822", h.o.MaxMessage)
		defer release()
	}
	var res Sent
	if err == nil {
		res, err = h.b.SendLegacy(r.Context(), s.Account, to, msg)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sendResponse{Status: "queued", Digest: hex.EncodeToString(res.Digest[:])})
}

// SendLegacy hands one plain message for rcpt, an address outside Umbra,
// to the provider's legacy relay (spec §10.2). ErrDarkMail means rcpt's
// domain publishes a _dime record: seal the message and Send it instead.
func (c *Client) SendLegacy(ctx context.Context, rcpt string, msg []byte) (Sent, error) {
	resp, err := c.do(ctx, request{
		method: http.MethodPost, path: "legacy?" + url.Values{"to": {rcpt}}.Encode(), body: msg, auth: true,
		header: http.Header{"Content-Type": {"message/rfc822"}},
	})
	if err != nil {
		return Sent{}, err
	}
	return readSent(resp)
}
