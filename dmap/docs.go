package dmap

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// GET /changes (spec §8.2): one page of the account's change feed; with
// wait, a long-poll that answers as soon as there is a change above since,
// or with an empty page when wait has passed.
func (h *handler) changes(w http.ResponseWriter, r *http.Request, s Session) {
	q, err := parseChangesQuery(r.URL.RawQuery, h.o.MaxWait)
	if err != nil {
		h.fail(w, err)
		return
	}
	var changed <-chan struct{}
	if q.wait > 0 {
		// Subscribe before the first query, so that a change between the
		// query and the wait is not missed.
		var stop func()
		changed, stop = h.b.Watch(s.Account)
		defer stop()
	}
	list, err := h.b.Changes(r.Context(), s.Account, q.since, q.limit)
	if err == nil && len(list) == 0 && q.wait > 0 {
		timer := time.NewTimer(q.wait)
		defer timer.Stop()
	wait:
		for err == nil && len(list) == 0 {
			select {
			case <-changed:
				list, err = h.b.Changes(r.Context(), s.Account, q.since, q.limit)
			case <-timer.C:
				break wait
			case <-r.Context().Done():
				return // the client has gone; nobody reads an answer
			}
		}
	}
	var head int64
	if err == nil {
		// Read after the page, so it is at or above every change in it.
		head, err = h.b.Head(r.Context(), s.Account)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	resp := changesResponse{Changes: list, Next: q.since, More: len(list) >= q.limit, Head: head}
	if resp.Changes == nil {
		resp.Changes = []Change{}
	}
	if n := len(list); n > 0 {
		resp.Next = list[n-1].Seq
	}
	writeJSON(w, http.StatusOK, resp)
}

func docID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	return id, CheckDocID(id)
}

// setDocHeaders describes a document's state in the answer's headers.
func setDocHeaders(w http.ResponseWriter, c Change) {
	hd := w.Header()
	hd.Set("Umbra-Revision", strconv.FormatInt(c.Revision, 10))
	hd.Set("ETag", `"`+strconv.FormatInt(c.Revision, 10)+`"`)
	if c.Kind != "" {
		hd.Set("Umbra-Kind", c.Kind)
	}
}

// GET /docs/{id} (spec §8.3), with one byte range at most.
func (h *handler) getDoc(w http.ResponseWriter, r *http.Request, s Session) {
	id, err := docID(r)
	var c Change
	var data io.ReaderAt
	if err == nil {
		c, data, err = h.b.Get(r.Context(), s.Account, id)
	}
	if err == nil && c.Deleted {
		err = Deleted(c.Revision)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	size := c.Size
	hd := w.Header()
	setDocHeaders(w, c)
	hd.Set("Accept-Ranges", "bytes")
	rg := parseRange(r.Header.Get("Range"), size)
	if rg.unsatisfiable {
		hd.Set("Content-Range", fmt.Sprintf("bytes */%d", size)) // RFC 9110 §15.5.17
		h.fail(w, ErrRangeNotSatisfiable.With("the document has %d bytes", size))
		return
	}
	hd.Set("Content-Type", "application/octet-stream")
	body := io.NewSectionReader(data, 0, size)
	status := http.StatusOK
	if rg.partial {
		body = io.NewSectionReader(data, rg.first, rg.last+1-rg.first)
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rg.first, rg.last, size))
	}
	hd.Set("Content-Length", strconv.FormatInt(body.Size(), 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	// Streamed as it is read, in reads of up to downloadPiece: a store
	// may pay for each read (SQLite walks a blob's pages from its start
	// on every one), so not in net/http's 32 KiB. A failed write means
	// the client has gone; a failed read (the document replaced
	// meanwhile, the store gone) ends the body short of its length, which
	// the client sees as a broken download and retries.
	// (The struct wrappers hide ReaderFrom and WriterTo, which would
	// choose their own read size.)
	buf := make([]byte, max(min(body.Size(), downloadPiece), 1))
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{body}, buf); err != nil {
		h.o.Logger.Debug("dmap: document download ended early", "path", r.URL.Path, "err", err)
	}
}

// downloadPiece is the most a download reads of its document at once.
const downloadPiece = 1 << 20

// PUT /docs/{id} (spec §8.4).
func (h *handler) putDoc(w http.ResponseWriter, r *http.Request, s Session) {
	id, err := docID(r)
	kind := r.Header.Get("Umbra-Kind")
	if err == nil {
		err = CheckKind(kind)
	}
	var expected int64
	if err == nil {
		_, present := r.Header["If-Match"]
		expected, err = parseIfMatch(r.Header.Get("If-Match"), present)
	}
	var data *io.SectionReader
	if err == nil {
		var release func()
		data, release, err = h.readBody(w, r, "application/octet-stream", h.o.MaxDocument)
		defer release()
	}
	var c Change
	if err == nil {
		c, err = h.b.Put(r.Context(), s.Account, id, kind, expected, data)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	setDocHeaders(w, c)
	status := http.StatusOK
	if expected == 0 {
		status = http.StatusCreated
	}
	writeJSON(w, status, c)
}

// DELETE /docs/{id} (spec §8.5).
func (h *handler) deleteDoc(w http.ResponseWriter, r *http.Request, s Session) {
	id, err := docID(r)
	var expected int64
	if err == nil {
		_, present := r.Header["If-Match"]
		expected, err = parseIfMatch(r.Header.Get("If-Match"), present)
	}
	if err == nil && expected == 0 {
		err = ErrBadField.With("If-Match must name the revision to delete, not 0")
	}
	var c Change
	if err == nil {
		c, err = h.b.Delete(r.Context(), s.Account, id, expected)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	setDocHeaders(w, c)
	writeJSON(w, http.StatusOK, c)
}
