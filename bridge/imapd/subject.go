package imapd

import "strings"

// baseSubject returns the base subject of a subject already decoded
// from RFC 2047 (RFC 5256 §2.1), and whether the message is a reply or a
// forward: whether a "Re:"/"Fwd:" leader, a "(fwd)" trailer or a
// "[fwd: ...]" wrapper was removed on the way, which THREAD=REFERENCES
// needs (RFC 5256 §3, step 5).
func baseSubject(subject string) (string, bool) {
	s := strings.Join(strings.Fields(subject), " ") // step 1: one space for each run of whitespace
	refwd := false
	for {
		// Step 2: trailing "(fwd)" and whitespace (subj-trailer).
		for {
			s = strings.TrimRight(s, " ")
			if !hasSuffixFold(s, "(fwd)") {
				break
			}
			s, refwd = s[:len(s)-len("(fwd)")], true
		}
		// Steps 3 to 5: leading whitespace and "[blob] Re:" leaders
		// (subj-leader), and a leading "[blob]" that is not all there is.
		for {
			if strings.HasPrefix(s, " ") {
				s = s[1:]
			} else if n := leaderLen(s); n > 0 {
				s, refwd = s[n:], true
			} else if n := blobLen(s); n > 0 && strings.TrimSpace(s[n:]) != "" {
				s = s[n:]
			} else {
				break
			}
		}
		// Step 6: "[fwd: ...]" is unwrapped, and it all begins again.
		if hasPrefixFold(s, "[fwd:") && strings.HasSuffix(s, "]") {
			s, refwd = s[len("[fwd:"):len(s)-1], true
			continue
		}
		return s, refwd
	}
}

// leaderLen is the length of a prefix of s matching *subj-blob
// subj-refwd, or 0.
func leaderLen(s string) int {
	i := 0
	for n := blobLen(s); n > 0; n = blobLen(s[i:]) {
		i += n
	}
	if n := refwdLen(s[i:]); n > 0 {
		return i + n
	}
	return 0
}

// refwdLen is the length of a prefix of s matching subj-refwd: ("re" /
// ("fw" ["d"])) *WSP [subj-blob] ":", or 0.
func refwdLen(s string) int {
	var i int
	switch {
	case hasPrefixFold(s, "re"):
		i = 2
	case hasPrefixFold(s, "fwd"):
		i = 3
	case hasPrefixFold(s, "fw"):
		i = 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += blobLen(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}

// blobLen is the length of a prefix of s matching subj-blob: "[" text
// without brackets "]" and the whitespace after, or 0. RFC 5256 limits
// the text to ASCII; after decoding to UTF-8 (step 1) any character but
// a bracket is taken, as Dovecot does.
func blobLen(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0
	}
	i := end + 2
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
