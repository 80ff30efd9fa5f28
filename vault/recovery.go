package vault

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cosmos/go-bip39"
)

const (
	// PhraseWords is the length of a recovery phrase: 256 bits of entropy
	// and an 8-bit checksum in 11-bit words (BIP-39).
	PhraseWords = 24
	// recoveryInfo is the HKDF info of spec §8.
	recoveryInfo = "umbra recovery signing key v1"
)

// NewPhrase returns a new 24-word BIP-39 recovery phrase (256 bits from
// crypto/rand), words separated by single spaces. Show it to the user once;
// RecoveryKey turns it into the account's recovery key on any device.
func NewPhrase() (string, error) {
	entropy, err := bip39.NewEntropy(256)
	if err != nil {
		return "", fmt.Errorf("vault: new recovery phrase: %w", err)
	}
	defer clear(entropy)
	phrase, err := bip39.NewMnemonic(entropy)
	if err != nil {
		return "", fmt.Errorf("vault: new recovery phrase: %w", err)
	}
	return phrase, nil
}

// RecoveryKey derives the account's recovery signing key from phrase
// (spec §8): the phrase is checked (24 list words, valid checksum), its
// BIP-39 seed computed with an empty passphrase (PBKDF2-HMAC-SHA512, 2048
// rounds), and HKDF-SHA256(seed, salt empty, info "umbra recovery signing
// key v1") gives the 32-byte Ed25519 seed. The same phrase gives the same key
// everywhere. Case and extra spaces are forgiven; errors are *PhraseError.
func RecoveryKey(phrase string) (ed25519.PrivateKey, error) {
	words, err := parsePhrase(phrase)
	if err != nil {
		return nil, err
	}
	seed := bip39.NewSeed(strings.Join(words, " "), "")
	defer clear(seed)
	edSeed, err := hkdf.Key(sha256.New, seed, nil, recoveryInfo, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("vault: recovery key: %w", err)
	}
	defer clear(edSeed)
	return ed25519.NewKeyFromSeed(edSeed), nil
}

// CheckPhrase reports whether phrase is a valid recovery phrase, with the
// same *PhraseError as RecoveryKey but without the cost of the seed.
func CheckPhrase(phrase string) error {
	_, err := parsePhrase(phrase)
	return err
}

// parsePhrase normalises phrase to lower-case words (BIP-39's English list
// is lower-case ASCII, where NFKD changes nothing) and checks their number,
// each word, then the checksum, so the error names the first problem a user
// can fix.
func parsePhrase(phrase string) ([]string, error) {
	// Count before copying anything, so a huge input costs no allocation.
	n := 0
	for range strings.FieldsSeq(phrase) {
		n++
	}
	if n != PhraseWords {
		return nil, &PhraseError{Words: n, Err: ErrPhraseLength}
	}
	words := strings.Fields(strings.ToLower(phrase))
	for i, w := range words {
		if _, ok := bip39.ReverseWordMap[w]; !ok {
			return nil, &PhraseError{Position: i + 1, Word: w, Words: len(words), Err: ErrPhraseWord}
		}
	}
	if _, err := bip39.MnemonicToByteArray(strings.Join(words, " ")); err != nil {
		return nil, &PhraseError{Words: len(words), Err: ErrPhraseChecksum}
	}
	return words, nil
}

// QuizPositions picks n distinct word positions (1-based, ascending) to ask
// back after showing a new phrase. The positions are not secret; math/rand
// (seeded by the runtime from the system's randomness) is enough.
func QuizPositions(n int) ([]int, error) {
	if n < 1 || n > PhraseWords {
		return nil, fmt.Errorf("vault: quiz of %d words, want 1 to %d", n, PhraseWords)
	}
	perm := rand.Perm(PhraseWords)[:n]
	for i := range perm {
		perm[i]++
	}
	slices.Sort(perm)
	return perm, nil
}

// CheckWords reports whether answers are the words of phrase at positions
// (1-based), so a user can prove they wrote the phrase down. Answers are
// compared in constant time after trimming and lower-casing; any invalid
// input (a bad phrase, a position out of range, counts that differ, no
// positions) gives false.
func CheckWords(phrase string, positions []int, answers []string) bool {
	words, err := parsePhrase(phrase)
	if err != nil || len(positions) == 0 || len(positions) != len(answers) {
		return false
	}
	match := 1
	for i, pos := range positions {
		if pos < 1 || pos > PhraseWords {
			return false
		}
		a := strings.ToLower(strings.TrimSpace(answers[i]))
		match &= subtle.ConstantTimeCompare([]byte(words[pos-1]), []byte(a))
	}
	return match == 1
}
