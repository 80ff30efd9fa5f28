package dmap

import (
	"fmt"
	"net/http"
	"time"
)

// Error is a DMAP error as it travels on the wire (docs/spec/dmap.md §3):
// an HTTP status and a JSON body {"code", "message"} with, for some codes,
// the document's current revision. The handler writes it; the Client
// returns it for every non-2xx answer; a Backend returns (wrapped) the
// sentinels below so that the handler can choose the answer.
//
// errors.Is(err, target) holds when both are *Error with the same Code, so
// callers test a client error against the same sentinel a backend returns:
// errors.Is(err, dmap.ErrConflict).
type Error struct {
	Status  int    // HTTP status
	Code    string // stable code from the list in spec §3
	Message string // human text; never parsed
	// Current is the document's current revision for "conflict" and
	// "deleted" (spec §8.4), 0 otherwise.
	Current int64
	// RetryAfter is the server's Retry-After for "rate_limited" and
	// "unavailable"; zero when absent. Not part of the JSON body.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("dmap: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Code == CodeConflict || e.Code == CodeDeleted {
		s += fmt.Sprintf(" (current revision %d)", e.Current)
	}
	return s
}

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// With returns a copy of e with a more precise message.
func (e *Error) With(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// Stable error codes (spec §3). The list is closed: a server sends no
// other code; a client treats an unknown one by its HTTP status.
const (
	CodeBadJSON              = "bad_json"
	CodeUnknownField         = "unknown_field"
	CodeBadField             = "bad_field"
	CodeBadSignet            = "bad_signet"
	CodeBadMessage           = "bad_message"
	CodeUnsupportedMedia     = "unsupported_media_type"
	CodeTooLarge             = "too_large"
	CodeTooSlow              = "too_slow"
	CodeUnauthorized         = "unauthorized"
	CodeLoginFailed          = "login_failed"
	CodeBadInvite            = "bad_invite"
	CodeForbidden            = "forbidden"
	CodeNotAuthor            = "not_author"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodeExists               = "exists"
	CodeWrongMode            = "wrong_mode"
	CodeDeleted              = "deleted"
	CodeResync               = "resync" // changes since a collected tombstone (spec §8.6)
	CodeRangeNotSatisfiable  = "range_not_satisfiable"
	CodePreconditionRequired = "precondition_required"
	CodeNoDarkMail           = "no_dark_mail"
	CodeDarkMail             = "dark_mail"
	CodeRateLimited          = "rate_limited"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal"
)

func newErr(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// Sentinels. A Backend wraps the ones that apply (fmt.Errorf("…: %w",
// dmap.ErrNotFound)) or returns a copy with a precise message (With); any
// other error becomes a 500 "internal" answer and is logged, not shown.
var (
	ErrBadJSON              = newErr(http.StatusBadRequest, CodeBadJSON, "the body is not one valid JSON object of the expected shape")
	ErrUnknownField         = newErr(http.StatusBadRequest, CodeUnknownField, "the JSON object has a member this endpoint does not define")
	ErrBadField             = newErr(http.StatusBadRequest, CodeBadField, "a field, parameter or header breaks its rule")
	ErrBadSignet            = newErr(http.StatusBadRequest, CodeBadSignet, "the signing request is malformed or not acceptable")
	ErrBadMessage           = newErr(http.StatusUnprocessableEntity, CodeBadMessage, "not a valid sealed D/MIME message from this account")
	ErrUnsupportedMedia     = newErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "wrong Content-Type for this endpoint")
	ErrTooLarge             = newErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "the body is over this endpoint's size limit")
	ErrTooSlow              = newErr(http.StatusRequestTimeout, CodeTooSlow, "the body came too slowly")
	ErrUnauthorized         = newErr(http.StatusUnauthorized, CodeUnauthorized, "missing, unknown, expired or revoked token")
	ErrLoginFailed          = newErr(http.StatusUnauthorized, CodeLoginFailed, "the proof was not accepted")
	ErrInvite               = newErr(http.StatusForbidden, CodeBadInvite, "invitation code wrong, already used, or unknown address")
	ErrForbidden            = newErr(http.StatusForbidden, CodeForbidden, "this account may not do that")
	ErrNotAuthor            = newErr(http.StatusForbidden, CodeNotAuthor, "the message's author is not the authenticated account")
	ErrNotFound             = newErr(http.StatusNotFound, CodeNotFound, "no such resource")
	ErrMethodNotAllowed     = newErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed on this resource")
	ErrConflict             = newErr(http.StatusConflict, CodeConflict, "the expected revision is not the current one")
	ErrExists               = newErr(http.StatusConflict, CodeExists, "already exists")
	ErrWrongMode            = newErr(http.StatusConflict, CodeWrongMode, "not possible in this account's mode")
	ErrDeleted              = newErr(http.StatusGone, CodeDeleted, "the document is deleted")
	ErrResync               = newErr(http.StatusGone, CodeResync, "changes before this position were collected; read the feed again from since=0")
	ErrRangeNotSatisfiable  = newErr(http.StatusRequestedRangeNotSatisfiable, CodeRangeNotSatisfiable, "the range starts beyond the document's end")
	ErrPreconditionRequired = newErr(http.StatusPreconditionRequired, CodePreconditionRequired, "this request needs an If-Match header")
	ErrNoDarkMail           = newErr(http.StatusUnprocessableEntity, CodeNoDarkMail, "the destination domain has no _dime record")
	ErrDarkMail             = newErr(http.StatusUnprocessableEntity, CodeDarkMail, "the destination domain publishes a _dime record: seal the message")
	ErrRateLimited          = newErr(http.StatusTooManyRequests, CodeRateLimited, "too many failed attempts; retry later")
	ErrUnavailable          = newErr(http.StatusServiceUnavailable, CodeUnavailable, "temporarily unavailable; retry later")
	errInternal             = newErr(http.StatusInternalServerError, CodeInternal, "internal error")
)

// Conflict is the error a Backend returns when Put or Delete expected
// another revision than current (0 when the document does not exist).
func Conflict(current int64) *Error {
	e := ErrConflict.With("the current revision is %d", current)
	e.Current = current
	return e
}

// Deleted is the error for a document that is a tombstone at revision
// current (GET of a deleted document).
func Deleted(current int64) *Error {
	e := ErrDeleted.With("the document was deleted at revision %d", current)
	e.Current = current
	return e
}
