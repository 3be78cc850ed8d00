package ca

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/zpam/zpam/controlplane/internal/config"
)

// AdminName is the admin credential init creates.
const AdminName = "admin"

// Action says what Init did with a file.
type Action string

const (
	Created Action = "created"
	Kept    Action = "kept"
	// Reissued: a server certificate lacked a name asked for and was
	// replaced by one under the same CA, which agents keep trusting.
	Reissued Action = "reissued"
)

// FileResult reports one file of Init.
type FileResult struct {
	Path   string
	Action Action
}

// Init creates whatever of the CA, server certificate and admin credential
// is missing and keeps what exists. Existing leaves must chain to the CA, so
// a half-replaced directory is reported instead of served. A new server
// certificate names localhost, the loopback addresses, hostname and names
// (DNS names or IP addresses). Replicas share one data directory and so
// one certificate, which must name every replica's address: a kept
// certificate missing one of names is reissued under the same CA, so that
// naming the server is a matter of running init again (hostname is not
// checked, since a replica started from a copied directory has another).
func Init(layout config.Layout, hostname string, names []string, now time.Time) ([]FileResult, error) {
	auth, res, err := initCA(layout, now)
	if err != nil {
		return nil, err
	}
	server, err := initServer(auth, layout, hostname, names, now)
	if err != nil {
		return nil, err
	}
	admin, err := initLeaf(auth, layout.AdminCert(), layout.AdminKey(), x509.ExtKeyUsageClientAuth, now, func() (Leaf, error) {
		return auth.IssueAdmin(AdminName, now)
	})
	if err != nil {
		return nil, err
	}
	return append(append(res, server...), admin...), nil
}

func serverNames(names []string) ([]string, []net.IP) {
	dns, ips := []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else if n != "" && n != "localhost" {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

func initServer(auth *Authority, layout config.Layout, hostname string, names []string, now time.Time) ([]FileResult, error) {
	dns, ips := serverNames(append([]string{hostname}, names...))
	issue := func() (Leaf, error) { return auth.IssueServer(dns, ips, now) }
	res, err := initLeaf(auth, layout.ServerCert(), layout.ServerKey(), x509.ExtKeyUsageServerAuth, now, issue)
	if err != nil || res[0].Action == Created {
		return res, err
	}
	cert, _, err := readCert(layout.ServerCert())
	if err != nil {
		return nil, err
	}
	if len(uncovered(cert, names)) == 0 {
		return res, nil
	}
	leaf, err := issue()
	if err != nil {
		return nil, err
	}
	if err := replacePair(layout.ServerCert(), layout.ServerKey(), leaf); err != nil {
		return nil, err
	}
	return results(Reissued, []string{layout.ServerCert(), layout.ServerKey()}), nil
}

// uncovered are the names cert is not valid for.
func uncovered(cert *x509.Certificate, names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" && cert.VerifyHostname(n) != nil {
			out = append(out, n)
		}
	}
	return out
}

// replacePair swaps in a new certificate and key, each written beside the
// old one and renamed over it, so neither file is ever half-written.
func replacePair(certPath, keyPath string, leaf Leaf) error {
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{keyPath, leaf.KeyPEM, 0o600}, {certPath, leaf.CertPEM, 0o644}} {
		tmp := f.path + ".new"
		_ = os.Remove(tmp)
		if err := writeNew(tmp, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, f.path); err != nil {
			return fmt.Errorf("replace %s: %w", f.path, err)
		}
	}
	return nil
}

func initCA(layout config.Layout, now time.Time) (*Authority, []FileResult, error) {
	state, err := pairState(layout.CACert(), layout.CAKey())
	if err != nil {
		return nil, nil, err
	}
	if state == pairBoth {
		auth, err := Load(layout)
		return auth, kept(layout.CACert(), layout.CAKey()), err
	}
	auth, key, err := newCA(now)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(layout.CACert(), layout.CAKey(), Leaf{CertPEM: auth.CertPEM, KeyPEM: keyPEM}); err != nil {
		return nil, nil, err
	}
	return auth, created(layout.CACert(), layout.CAKey()), nil
}

func initLeaf(auth *Authority, certPath, keyPath string, usage x509.ExtKeyUsage, now time.Time, issue func() (Leaf, error)) ([]FileResult, error) {
	state, err := pairState(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	if state == pairBoth {
		return kept(certPath, keyPath), checkLeaf(auth, certPath, keyPath, usage, now)
	}
	leaf, err := issue()
	if err != nil {
		return nil, err
	}
	if err := writePair(certPath, keyPath, leaf); err != nil {
		return nil, err
	}
	return created(certPath, keyPath), nil
}

func checkLeaf(auth *Authority, certPath, keyPath string, usage x509.ExtKeyUsage, now time.Time) error {
	cert, _, err := readCert(certPath)
	if err != nil {
		return err
	}
	if err := auth.Verify(cert, usage, now); err != nil {
		return fmt.Errorf("%s is not valid under the CA (%v); remove %s and %s and run init again", certPath, err, certPath, keyPath)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return fmt.Errorf("%s does not match %s; remove both and run init again", keyPath, certPath)
	}
	return nil
}

type pair int

const (
	pairNone pair = iota
	pairBoth
)

// pairState refuses a certificate without its key (or the reverse): making
// a new one would silently orphan whatever the missing half was issued for.
func pairState(certPath, keyPath string) (pair, error) {
	certOK, err := exists(certPath)
	if err != nil {
		return pairNone, err
	}
	keyOK, err := exists(keyPath)
	if err != nil {
		return pairNone, err
	}
	switch {
	case certOK && keyOK:
		return pairBoth, nil
	case !certOK && !keyOK:
		return pairNone, nil
	case certOK:
		return pairNone, fmt.Errorf("%s exists without %s; restore the key or remove both and run init again", certPath, keyPath)
	}
	return pairNone, fmt.Errorf("%s exists without %s; restore the certificate or remove both and run init again", keyPath, certPath)
}

func writePair(certPath, keyPath string, leaf Leaf) error {
	if err := writeNew(keyPath, leaf.KeyPEM, 0o600); err != nil {
		return err
	}
	return writeNew(certPath, leaf.CertPEM, 0o644)
}

func kept(paths ...string) []FileResult    { return results(Kept, paths) }
func created(paths ...string) []FileResult { return results(Created, paths) }

func results(a Action, paths []string) []FileResult {
	out := make([]FileResult, len(paths))
	for i, p := range paths {
		out[i] = FileResult{Path: p, Action: a}
	}
	return out
}
