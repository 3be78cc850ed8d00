package ca

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
)

// Kind is who a certificate speaks for.
type Kind string

const (
	// KindHost is an enrolled agent: zpam://host/<host-id>.
	KindHost Kind = "host"
	// KindAdmin is an admin or approver: zpam://admin/<name>.
	KindAdmin Kind = "admin"
)

const uriScheme = "zpam"

// Identity is the principal named by a certificate's URI SAN. Authorisation
// uses only this, never the subject CN, because the CA writes the URI itself.
type Identity struct {
	Kind Kind
	Name string
}

// URI is the SAN form of the identity.
func (i Identity) URI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: string(i.Kind), Path: "/" + i.Name}
}

func (i Identity) String() string { return i.URI().String() }

// IdentityOf reads the single zpam:// URI SAN of a certificate.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range cert.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		id, err := parseIdentity(u)
		if err != nil {
			return Identity{}, err
		}
		found = append(found, id)
	}
	if len(found) != 1 {
		return Identity{}, fmt.Errorf("certificate has %d zpam:// identities, expected exactly one", len(found))
	}
	return found[0], nil
}

func parseIdentity(u *url.URL) (Identity, error) {
	name := strings.TrimPrefix(u.Path, "/")
	kind := Kind(u.Host)
	if (kind != KindHost && kind != KindAdmin) || name == "" || strings.Contains(name, "/") {
		return Identity{}, fmt.Errorf("certificate identity %q is not zpam://host/<id> or zpam://admin/<name>", u.String())
	}
	return Identity{Kind: kind, Name: name}, nil
}
