package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cosmos/go-bip39"
)

// vectorPhrase is the third phrase of testdata/vault/recovery-v1.json (the
// BIP-39 reference vector for entropy 68a79eac…).
const vectorPhrase = "hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length"

func TestNewPhrase(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 8 {
		p, err := NewPhrase()
		if err != nil {
			t.Fatal(err)
		}
		words := strings.Split(p, " ")
		if len(words) != PhraseWords {
			t.Fatalf("%d words in %q", len(words), p)
		}
		if err := CheckPhrase(p); err != nil {
			t.Fatalf("new phrase %q rejected: %v", p, err)
		}
		if seen[p] {
			t.Fatalf("phrase %q came twice", p)
		}
		seen[p] = true
	}
}

func TestRecoveryKeyDeterministicAndForgiving(t *testing.T) {
	t.Parallel()
	a, err := RecoveryKey(vectorPhrase)
	if err != nil {
		t.Fatal(err)
	}
	messy := "  " + strings.ToUpper(strings.ReplaceAll(vectorPhrase, " ", " \n\t ")) + "\n"
	b, err := RecoveryKey(messy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("case or spacing changed the recovery key")
	}
	// A different phrase gives a different key.
	other, err := RecoveryKey("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, other) {
		t.Fatal("two phrases gave one key")
	}
}

func TestPhraseErrors(t *testing.T) {
	t.Parallel()
	words := strings.Fields(vectorPhrase)
	replace := func(i int, w string) string {
		c := slices.Clone(words)
		c[i] = w
		return strings.Join(c, " ")
	}
	swapped := slices.Clone(words)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	cases := []struct {
		name     string
		phrase   string
		kind     error
		position int
		word     string
		msg      string
	}{
		{"empty", "", ErrPhraseLength, 0, "", "0 words"},
		{"23 words", strings.Join(words[:23], " "), ErrPhraseLength, 0, "", "23 words"},
		{"25 words", vectorPhrase + " zoo", ErrPhraseLength, 0, "", "25 words"},
		{"12 words", strings.Join(words[:12], " "), ErrPhraseLength, 0, "", "exactly 24"},
		{"unknown word", replace(4, "hamstre"), ErrPhraseWord, 5, "hamstre", `word 5 "hamstre"`},
		{"non-ASCII word", replace(23, "längth"), ErrPhraseWord, 24, "längth", "word 24"},
		{"wrong last word", replace(23, "zoo"), ErrPhraseChecksum, 0, "", "checksum"},
		{"swapped words", strings.Join(swapped, " "), ErrPhraseChecksum, 0, "", "checksum"},
	}
	for _, c := range cases {
		_, err := RecoveryKey(c.phrase)
		var pe *PhraseError
		if !errors.As(err, &pe) || !errors.Is(err, c.kind) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.kind)
			continue
		}
		if pe.Position != c.position || pe.Word != c.word || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got position %d word %q message %q", c.name, pe.Position, pe.Word, err)
		}
		if CheckPhrase(c.phrase) == nil {
			t.Errorf("%s: CheckPhrase accepted it", c.name)
		}
	}
}

// bip39ChecksumOK is BIP-39's checksum rule written out independently:
// 24 words of 11 bits are 256 entropy bits and 8 bits that must equal the
// first byte of SHA-256(entropy).
func bip39ChecksumOK(words []string) bool {
	var bits [33]byte
	for i, w := range words {
		idx := bip39.ReverseWordMap[w]
		for b := range 11 {
			if idx>>(10-b)&1 == 1 {
				pos := i*11 + b
				bits[pos/8] |= 0x80 >> (pos % 8)
			}
		}
	}
	sum := sha256.Sum256(bits[:32])
	return sum[0] == bits[32]
}

// TestChecksum tries every last word: exactly those that satisfy the
// checksum (8 of 2048, as 3 of its 11 bits are entropy) are accepted.
func TestChecksum(t *testing.T) {
	t.Parallel()
	words := strings.Fields(vectorPhrase)
	valid := 0
	for _, w := range bip39.WordList {
		words[23] = w
		ok := CheckPhrase(strings.Join(words, " ")) == nil
		if ok != bip39ChecksumOK(words) {
			t.Fatalf("last word %q: accepted %v, checksum says otherwise", w, ok)
		}
		if ok {
			valid++
		}
	}
	if valid != 8 {
		t.Fatalf("%d valid last words, want 8", valid)
	}
}

func TestCheckWords(t *testing.T) {
	t.Parallel()
	w := strings.Fields(vectorPhrase)
	cases := []struct {
		name      string
		positions []int
		answers   []string
		want      bool
	}{
		{"right", []int{3, 17}, []string{w[2], w[16]}, true},
		{"right, case and spaces", []int{1, 24}, []string{" HAMSTER ", "Length\n"}, true},
		{"one wrong", []int{3, 17}, []string{w[2], "zoo"}, false},
		{"swapped answers", []int{3, 17}, []string{w[16], w[2]}, false},
		{"prefix only", []int{1}, []string{"hams"}, false},
		{"position 0", []int{0}, []string{w[0]}, false},
		{"position 25", []int{25}, []string{w[0]}, false},
		{"fewer answers", []int{1, 2}, []string{w[0]}, false},
		{"nothing asked", nil, nil, false},
	}
	for _, c := range cases {
		if got := CheckWords(vectorPhrase, c.positions, c.answers); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if CheckWords("not a phrase", []int{1}, []string{"not"}) {
		t.Error("CheckWords accepted an invalid phrase")
	}
}

func TestQuizPositions(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 24} {
		p, err := QuizPositions(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != n || !slices.IsSorted(p) || p[0] < 1 || p[n-1] > PhraseWords || len(slices.Compact(slices.Clone(p))) != n {
			t.Fatalf("QuizPositions(%d) = %v", n, p)
		}
	}
	for _, n := range []int{0, -1, 25} {
		if _, err := QuizPositions(n); err == nil {
			t.Errorf("QuizPositions(%d) accepted", n)
		}
	}
}
