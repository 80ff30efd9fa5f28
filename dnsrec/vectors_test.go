package dnsrec

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
)

// vectors mirrors testdata/dns/vectors.json (docs/spec/dns.md §8).
type vectors struct {
	Valid []struct {
		Name   string   `json:"name"`
		TXT    []string `json:"txt"`
		Fields struct {
			POK  []string `json:"pok"`
			SOK  []string `json:"sok"`
			DX   string   `json:"dx"`
			DMAP string   `json:"dmap"`
			TLS  string   `json:"tls"`
			FP   string   `json:"fp"`
			Pol  string   `json:"pol"`
			Exp  int      `json:"exp"`
			Sub  string   `json:"sub"`
		} `json:"fields"`
		Canonical []string `json:"canonical"`
	} `json:"valid"`
	Invalid []struct {
		Name  string   `json:"name"`
		TXT   []string `json:"txt"`
		Field string   `json:"field"`
		Error string   `json:"error"`
	} `json:"invalid"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	data, err := os.ReadFile("../testdata/dns/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 {
		t.Fatal("vectors.json has no vectors")
	}
	return &v
}

func TestVectorsValid(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Valid {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(v.TXT)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			f := v.Fields
			keys := func(ks [][]byte) []string {
				var out []string
				for _, k := range ks {
					out = append(out, base64.StdEncoding.EncodeToString(k))
				}
				return out
			}
			var poks, soks [][]byte
			for _, k := range r.POKs {
				poks = append(poks, k)
			}
			for _, k := range r.SOKs {
				soks = append(soks, k)
			}
			if got := keys(poks); !slices.Equal(got, f.POK) {
				t.Errorf("pok = %v, want %v", got, f.POK)
			}
			if got := keys(soks); !slices.Equal(got, f.SOK) {
				t.Errorf("sok = %v, want %v", got, f.SOK)
			}
			var tls, fp string
			if r.TLSPin != nil {
				tls = base64.StdEncoding.EncodeToString(r.TLSPin)
			}
			if !r.Fingerprint.IsZero() {
				fp = r.Fingerprint.String()
			}
			got := [...]string{r.DX, r.DMAP, tls, fp, r.Policy.String(), r.Subdomain.String()}
			want := [...]string{f.DX, f.DMAP, f.TLS, f.FP, f.Pol, f.Sub}
			if got != want {
				t.Errorf("dx dmap tls fp pol sub = %q, want %q", got, want)
			}
			if r.Version != 1 || r.ExpDays != f.Exp {
				t.Errorf("ver %d exp %d, want 1 and %d", r.Version, r.ExpDays, f.Exp)
			}
			if txt := r.TXT(); !slices.Equal(txt, v.Canonical) {
				t.Errorf("TXT() = %q\nwant     %q", txt, v.Canonical)
			}
		})
	}
}

func TestVectorsInvalid(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t).Invalid {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(v.TXT)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, %v; want a *ParseError", r, err)
			}
			if pe.Field != v.Field {
				t.Errorf("field %q, want %q (%v)", pe.Field, v.Field, err)
			}
			if err.Error() != v.Error {
				t.Errorf("error\n got %q\nwant %q", err.Error(), v.Error)
			}
		})
	}
}
