package ca

import (
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

const spiffeScheme = "spiffe"

// ParseSPIFFEID checks that s is a SPIFFE ID with a path (a workload, not
// a bare trust domain) and returns it in canonical form.
func ParseSPIFFEID(s string) (string, error) {
	id, err := spiffeid.FromString(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a SPIFFE ID like spiffe://example.org/ci/deploy: %v", s, err)
	}
	if id.Path() == "" {
		return "", fmt.Errorf("SPIFFE ID %q names only a trust domain; add a path like /ci/deploy", s)
	}
	return id.String(), nil
}
