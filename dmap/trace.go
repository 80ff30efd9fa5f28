package dmap

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"umbra/wiretrace"
)

// DMAP's wire trace (`--log-level trace`, umbra/wiretrace): each
// request's line and headers and each answer's status, headers and size.
// Never a body — documents, key backups and the tokens in login answers —
// and never a bearer token: the Authorization header shows its scheme
// alone.

// traced serves r through next with its trace, when the logger records
// LevelTrace.
func (h *handler) traced(w http.ResponseWriter, r *http.Request, next http.Handler) {
	log := h.o.Logger.With("client", h.o.ClientAddress(r))
	log.Log(r.Context(), wiretrace.LevelTrace, "C: "+r.Method+" "+r.URL.RequestURI()+" "+r.Proto+traceHeaders(r.Header))
	tw := &traceWriter{ResponseWriter: w}
	next.ServeHTTP(tw, r)
	if tw.status == 0 {
		tw.status = http.StatusOK
	}
	log.Log(context.WithoutCancel(r.Context()), wiretrace.LevelTrace,
		fmt.Sprintf("S: %d %s%s (%d bytes of body)", tw.status, http.StatusText(tw.status), traceHeaders(w.Header()), tw.n))
}

// traceHeaders shows headers in a stable order, the credentials of
// Authorization replaced by wiretrace.Redacted.
func traceHeaders(hd http.Header) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(hd)) {
		for _, v := range hd[k] {
			if k == "Authorization" {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " " + wiretrace.Redacted
			}
			fmt.Fprintf(&b, "; %s: %s", k, v)
		}
	}
	return b.String()
}

// traceWriter notes an answer's status and counts its body's bytes.
// Unwrap lets http.ResponseController reach the connection's own writer
// (long polls flush, tunnels run full duplex).
type traceWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (t *traceWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *traceWriter) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	n, err := t.ResponseWriter.Write(p)
	t.n += int64(n)
	return n, err
}

func (t *traceWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
