package vault

import (
	"errors"
	"fmt"
)

// ErrWrongPassword reports that the vault could not be opened with the
// password given. AES-GCM cannot tell a wrong key from a changed ciphertext
// or header, so the message says both (spec §4).
var ErrWrongPassword = errors.New("wrong password or damaged vault file")

// ErrEmptyPassword is returned when sealing with an empty password.
var ErrEmptyPassword = errors.New("empty password")

// FormatError is a vault, parameter set or key set that breaks a rule of
// docs/spec/vault.md. Field names the part (e.g. "header", "params.memory",
// "keys.signing"), Rule the rule it broke.
type FormatError struct {
	Field string
	Rule  string
}

func (e *FormatError) Error() string { return e.Field + ": " + e.Rule }

func formatErr(field, format string, args ...any) *FormatError {
	return &FormatError{Field: field, Rule: fmt.Sprintf(format, args...)}
}

// Kinds of recovery phrase failure, wrapped by *PhraseError.
var (
	ErrPhraseLength   = errors.New("a recovery phrase has exactly 24 words")
	ErrPhraseWord     = errors.New("word is not in the BIP-39 English word list")
	ErrPhraseChecksum = errors.New("checksum does not match: a word is wrong or two are swapped")
)

// PhraseError says what is wrong with a recovery phrase, in words a user can
// act on. Position is 1-based (as shown to users) and 0 when the failure is
// not about one word.
type PhraseError struct {
	Position int
	Word     string
	Words    int   // number of words found in the phrase
	Err      error // one of ErrPhraseLength, ErrPhraseWord, ErrPhraseChecksum
}

func (e *PhraseError) Error() string {
	if errors.Is(e.Err, ErrPhraseLength) {
		return fmt.Sprintf("vault: recovery phrase: %d words: %v", e.Words, e.Err)
	}
	if e.Position > 0 {
		return fmt.Sprintf("vault: recovery phrase: word %d %q: %v", e.Position, e.Word, e.Err)
	}
	return "vault: recovery phrase: " + e.Err.Error()
}

func (e *PhraseError) Unwrap() error { return e.Err }
