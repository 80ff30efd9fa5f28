package dmap

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"umbra/signet"
)

// Page is one page of the change feed.
type Page struct {
	Changes []Change
	Next    int64 // the since of the next call
	More    bool  // the page was full: ask again at once, without waiting
	Head    int64 // the account's latest change when the page was read: the feed's end, for progress
}

// Changes returns the changes above since (spec §8.2). With wait > 0 it
// long-polls: the server answers as soon as there is a change, or with an
// empty page after wait (which it may shorten to its own maximum).
// ErrResync when tombstones after since were collected: read the feed
// again from 0 (spec §8.6).
func (c *Client) Changes(ctx context.Context, since int64, wait time.Duration) (Page, error) {
	q := url.Values{"since": {strconv.FormatInt(since, 10)}}
	if wait > 0 {
		q.Set("wait", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "changes", query: q, auth: true})
	if err != nil {
		return Page{}, err
	}
	data, err := readAll(resp, maxJSONResponse)
	if err != nil {
		return Page{}, err
	}
	return parseChanges(data, since)
}

// parseChanges reads a changes answer (spec §8.2) to a request above
// since: the server's word, checked before the bridge acts on it.
func parseChanges(data []byte, since int64) (Page, error) {
	var cr changesResponse
	if err := json.Unmarshal(data, &cr); err != nil {
		return Page{}, fmt.Errorf("dmap: malformed changes answer: %w", err)
	}
	for i, ch := range cr.Changes {
		if CheckDocID(ch.ID) != nil || ch.Seq <= since || (i > 0 && ch.Seq <= cr.Changes[i-1].Seq) {
			return Page{}, fmt.Errorf("dmap: malformed changes answer: entry %d (id %q, seq %d) out of order or invalid", i, clip(ch.ID, 40), ch.Seq)
		}
	}
	if cr.Next < since {
		return Page{}, fmt.Errorf("dmap: malformed changes answer: next %d is below since %d", cr.Next, since)
	}
	if n := len(cr.Changes); n > 0 && cr.Head < cr.Changes[n-1].Seq {
		return Page{}, fmt.Errorf("dmap: malformed changes answer: head %d is below the last change, %d", cr.Head, cr.Changes[n-1].Seq)
	}
	return Page(cr), nil
}

func docPath(id string) (string, error) {
	if err := CheckDocID(id); err != nil {
		return "", err
	}
	return "docs/" + id, nil
}

// revisionHeader reads Umbra-Revision.
func revisionHeader(resp *http.Response) (int64, error) {
	n, ok := parseUint(resp.Header.Get("Umbra-Revision"))
	if !ok {
		return 0, fmt.Errorf("dmap: answer without a valid Umbra-Revision")
	}
	return n, nil
}

// Get downloads a whole document (spec §8.3). A deleted one is an *Error
// with code "deleted" and its tombstone's revision in Current.
func (c *Client) Get(ctx context.Context, id string) (Document, error) {
	p, err := docPath(id)
	if err != nil {
		return Document{}, err
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: p, auth: true})
	if err != nil {
		return Document{}, err
	}
	d := Document{Change: Change{ID: id, Kind: resp.Header.Get("Umbra-Kind")}}
	if d.Revision, err = revisionHeader(resp); err != nil {
		resp.Body.Close()
		return Document{}, err
	}
	if d.Data, err = readAll(resp, c.MaxDocument); err != nil {
		return Document{}, err
	}
	d.Size = int64(len(d.Data))
	return d, nil
}

// Part is a byte range of a document.
type Part struct {
	Data     []byte
	Offset   int64 // of Data's first byte in the document
	Size     int64 // of the whole document
	Revision int64 // the document's revision the bytes belong to
}

// GetRange downloads length bytes of a document from offset (spec §8.3),
// fewer at its end. Resuming a download, compare Revision across parts.
func (c *Client) GetRange(ctx context.Context, id string, offset, length int64) (Part, error) {
	if offset < 0 || length <= 0 || length > c.MaxDocument {
		return Part{}, fmt.Errorf("dmap: range offset %d length %d", offset, length)
	}
	p, err := docPath(id)
	if err != nil {
		return Part{}, err
	}
	h := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)}}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: p, header: h, auth: true})
	if err != nil {
		return Part{}, err
	}
	part := Part{}
	if part.Revision, err = revisionHeader(resp); err != nil {
		resp.Body.Close()
		return Part{}, err
	}
	if resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		return Part{}, fmt.Errorf("dmap: range request answered %d, not 206", resp.StatusCode)
	}
	var last int64
	if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &part.Offset, &last, &part.Size); err != nil ||
		part.Offset != offset || last < part.Offset || last >= part.Size || last-part.Offset+1 > length {
		resp.Body.Close()
		return Part{}, fmt.Errorf("dmap: bad Content-Range %q", resp.Header.Get("Content-Range"))
	}
	if part.Data, err = readAll(resp, length); err != nil {
		return Part{}, err
	}
	if int64(len(part.Data)) != last-part.Offset+1 {
		return Part{}, fmt.Errorf("dmap: range of %d bytes announced, %d received", last-part.Offset+1, len(part.Data))
	}
	return part, nil
}

// Put creates (expected 0) or replaces a document (spec §8.4). On a
// revision mismatch the error is an *Error with code "conflict" and the
// current revision in Current.
func (c *Client) Put(ctx context.Context, id, kind string, expected int64, data []byte) (Change, error) {
	p, err := docPath(id)
	if err != nil {
		return Change{}, err
	}
	if data == nil {
		data = []byte{}
	}
	h := http.Header{
		"Content-Type": {"application/octet-stream"},
		"If-Match":     {`"` + strconv.FormatInt(expected, 10) + `"`},
		"Umbra-Kind":   {kind},
	}
	return c.change(ctx, request{method: http.MethodPut, path: p, header: h, body: data, auth: true})
}

// Delete replaces a document by a tombstone (spec §8.5).
func (c *Client) Delete(ctx context.Context, id string, expected int64) (Change, error) {
	p, err := docPath(id)
	if err != nil {
		return Change{}, err
	}
	h := http.Header{"If-Match": {`"` + strconv.FormatInt(expected, 10) + `"`}}
	return c.change(ctx, request{method: http.MethodDelete, path: p, header: h, auth: true})
}

func (c *Client) change(ctx context.Context, rq request) (Change, error) {
	resp, err := c.do(ctx, rq)
	if err != nil {
		return Change{}, err
	}
	data, err := readAll(resp, maxErrorBody)
	if err != nil {
		return Change{}, err
	}
	var ch Change
	if err := json.Unmarshal(data, &ch); err != nil {
		return Change{}, fmt.Errorf("dmap: malformed change answer: %w", err)
	}
	return ch, nil
}

// Send hands one sealed D/MIME message to the provider (spec §10).
func (c *Client) Send(ctx context.Context, msg []byte) (Sent, error) {
	resp, err := c.do(ctx, request{
		method: http.MethodPost, path: "send", body: msg, auth: true,
		header: http.Header{"Content-Type": {"application/octet-stream"}},
	})
	if err != nil {
		return Sent{}, err
	}
	return readSent(resp)
}

// readSent parses the answer of send and legacy (spec §10).
func readSent(resp *http.Response) (Sent, error) {
	data, err := readAll(resp, maxErrorBody)
	if err != nil {
		return Sent{}, err
	}
	var sr sendResponse
	if err := json.Unmarshal(data, &sr); err != nil {
		return Sent{}, fmt.Errorf("dmap: malformed send answer: %w", err)
	}
	d, err := hex.DecodeString(sr.Digest)
	if err != nil || len(d) != 32 || (sr.Status != "queued" && sr.Status != "delivered") {
		return Sent{}, fmt.Errorf("dmap: malformed send answer: status %q digest %q", clip(sr.Status, 20), clip(sr.Digest, 80))
	}
	return Sent{Digest: [32]byte(d), Delivered: sr.Status == "delivered"}, nil
}

// Signet looks up a signet through the provider (spec §9.1): for an
// address its current user signet, for a domain its organisation signet,
// or with a non-zero fp that one. The bytes are unverified: check them.
func (c *Client) Signet(ctx context.Context, name string, fp signet.Fingerprint) ([]byte, error) {
	q := url.Values{"name": {name}}
	if !fp.IsZero() {
		q.Set("fp", fp.String())
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "signet", query: q, auth: true})
	if err != nil {
		return nil, err
	}
	return readAll(resp, signet.MaxSize)
}

// Log asks a query of the provider's own transparency log (spec §9.4,
// docs/spec/keylog.md §8) and returns the answer's payload, unverified.
func (c *Client) Log(ctx context.Context, query string) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "log", query: url.Values{"q": {query}}, auth: true})
	if err != nil {
		return nil, err
	}
	return readAll(resp, 1<<20)
}

// maxHistoryTotal bounds how many signets History collects over all pages.
const maxHistoryTotal = 16 * MaxHistoryPage

// History returns address's user signets from start to stop (spec §9.2),
// following the server's pages. The bytes are unverified: check the chain
// with signet.VerifyHistory.
func (c *Client) History(ctx context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error) {
	var all [][]byte
	for {
		q := url.Values{"address": {address}}
		if !start.IsZero() {
			q.Set("start", start.String())
		}
		if !stop.IsZero() {
			q.Set("stop", stop.String())
		}
		resp, err := c.do(ctx, request{method: http.MethodGet, path: "history", query: q, auth: true})
		if err != nil {
			return nil, err
		}
		more := strings.EqualFold(resp.Header.Get("Umbra-More"), "true")
		data, err := readAll(resp, MaxHistoryPage*(4+signet.MaxSize))
		if err != nil {
			return nil, err
		}
		page, err := decodeFrames(data)
		if err != nil {
			return nil, err
		}
		if len(all) > 0 && len(page) > 0 {
			page = page[1:] // the page starts with the previous page's last signet
		}
		all = append(all, page...)
		if !more || len(page) == 0 {
			return all, nil
		}
		if len(all) > maxHistoryTotal {
			return nil, fmt.Errorf("dmap: history of %s longer than %d signets", address, maxHistoryTotal)
		}
		start = signet.FingerprintOf(all[len(all)-1])
	}
}
