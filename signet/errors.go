package signet

import "fmt"

// Error is a parse or verification failure. Field names the field (or
// signature) that broke, Rule the rule it broke, in the words of
// docs/spec/signet.md, so an operator can tell what is wrong.
type Error struct {
	Field string // e.g. "pok", "org-signature", "validity", "chain"
	Rule  string
	Err   error // an underlying cause, if any
}

func (e *Error) Error() string {
	s := "signet: " + e.Field + ": " + e.Rule
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Rule: fmt.Sprintf(format, args...)}
}
