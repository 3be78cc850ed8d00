package jointoken

import (
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tok, err := New([]byte("ca der"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(tok.String())
	if err != nil {
		t.Fatalf("parse %q: %v", tok.String(), err)
	}
	if got != tok {
		t.Fatalf("round trip: got %+v, want %+v", got, tok)
	}
	if got.CAFingerprint != Fingerprint([]byte("ca der")) {
		t.Fatal("fingerprint does not match the CA")
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := New([]byte("x"))
	for _, s := range []string{"", "zpam1", "zpam2." + good.Secret + "." + good.CAFingerprint,
		"zpam1.short." + good.CAFingerprint, "zpam1." + good.Secret + ".nothex"} {
		if _, err := Parse(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", s, err)
		}
	}
}
