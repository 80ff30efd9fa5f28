package wkd

import "testing"

// The draft's example (§3.1).
func TestHashAndURLs(t *testing.T) {
	t.Parallel()
	if got := Hash("Joe.Doe"); got != "iy9q119eutrkn8s1mk4r39qejnbu3n5q" {
		t.Errorf("Hash(Joe.Doe) = %s", got)
	}
	adv, err := AdvancedURL("Joe.Doe@Example.ORG")
	if err != nil || adv != "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe" {
		t.Errorf("AdvancedURL = %s, %v", adv, err)
	}
	dir, err := DirectURL("Joe.Doe@Example.ORG")
	if err != nil || dir != "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe" {
		t.Errorf("DirectURL = %s, %v", dir, err)
	}
	// The local part is escaped in the query, never in the path.
	if u, _ := DirectURL("a&b=c d@example.org"); u != "https://example.org/.well-known/openpgpkey/hu/"+Hash("a&b=c d")+"?l=a%26b%3Dc+d" {
		t.Errorf("escaped URL = %s", u)
	}
}

func TestURLRejects(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"", "joe", "joe@", "@example.org", "joe@example.org/evil", "joe@example.org:443",
		"joe@exa mple.org", "joe@example..org", "joe@-example.org", "joe@bücher.example"} {
		if u, err := AdvancedURL(a); err == nil {
			t.Errorf("AdvancedURL(%q) = %s", a, u)
		}
		if u, err := DirectURL(a); err == nil {
			t.Errorf("DirectURL(%q) = %s", a, u)
		}
	}
}
