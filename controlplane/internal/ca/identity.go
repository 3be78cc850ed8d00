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
	// KindWorkload is a non-human client named by a SPIFFE ID URI SAN
	// (spiffe://trust-domain/path) and no zpam:// identity.
	KindWorkload Kind = "workload"
	// KindPerson is a registered person's own credential:
	// zpam://person/<name>. It acts only where policy lets that person.
	KindPerson Kind = "person"
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

// String is the identity as its certificate names it: the zpam:// URI,
// or a workload's SPIFFE ID.
func (i Identity) String() string {
	if i.Kind == KindWorkload {
		return i.Name
	}
	return i.URI().String()
}

// IdentityOf reads the single zpam:// URI SAN of a certificate, or else
// its single spiffe:// URI SAN, which makes it a workload.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	var spiffe []*url.URL
	for _, u := range cert.URIs {
		if u.Scheme == spiffeScheme {
			spiffe = append(spiffe, u)
		}
		if u.Scheme != uriScheme {
			continue
		}
		id, err := parseIdentity(u)
		if err != nil {
			return Identity{}, err
		}
		found = append(found, id)
	}
	if len(found) == 0 && len(spiffe) == 1 {
		id, err := ParseSPIFFEID(spiffe[0].String())
		return Identity{Kind: KindWorkload, Name: id}, err
	}
	if len(found) != 1 {
		return Identity{}, fmt.Errorf("certificate has %d zpam:// identities, expected exactly one (or one spiffe:// ID)", len(found))
	}
	return found[0], nil
}

func parseIdentity(u *url.URL) (Identity, error) {
	name := strings.TrimPrefix(u.Path, "/")
	kind := Kind(u.Host)
	if (kind != KindHost && kind != KindAdmin && kind != KindPerson) || name == "" || strings.Contains(name, "/") {
		return Identity{}, fmt.Errorf("certificate identity %q is not zpam://host/<id>, zpam://admin/<name> or zpam://person/<name>", u.String())
	}
	return Identity{Kind: kind, Name: name}, nil
}
