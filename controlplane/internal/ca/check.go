package ca

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zpam/zpam/controlplane/internal/config"
)

// Cert is one certificate of a data directory, as Check found it.
type Cert struct {
	// Name says what it is for: "CA", "server certificate", "admin credential".
	Name     string
	Path     string
	NotAfter time.Time
	// Names are the DNS names and IP addresses a server certificate is
	// valid for.
	Names []string
}

// Check verifies what init made, at now, the way serve and the admin
// commands will use it: the CA loads, matches its key and has not expired;
// the server certificate and the admin credential each chain to it, match
// their keys, are valid for their use and have not expired. Nothing is
// written. An expired leaf is named with how init reissues it.
func Check(layout config.Layout, now time.Time) ([]Cert, error) {
	auth, err := Load(layout)
	if err != nil {
		return nil, fmt.Errorf("%w (run pam-controlplane init --data-dir %s)", err, layout.Dir)
	}
	if now.After(auth.Cert.NotAfter) {
		return nil, fmt.Errorf("the CA %s expired on %s; every host must enroll again under a new CA: move %s aside and run pam-controlplane init",
			layout.CACert(), day(auth.Cert.NotAfter), layout.Dir)
	}
	certs := []Cert{{Name: "CA", Path: layout.CACert(), NotAfter: auth.Cert.NotAfter}}
	leaves := []struct {
		name, cert, key string
		usage           x509.ExtKeyUsage
	}{
		{"server certificate", layout.ServerCert(), layout.ServerKey(), x509.ExtKeyUsageServerAuth},
		{"admin credential", layout.AdminCert(), layout.AdminKey(), x509.ExtKeyUsageClientAuth},
	}
	for _, l := range leaves {
		c, err := checkLeafFile(auth, l.name, l.cert, l.key, l.usage, now)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, nil
}

func checkLeafFile(auth *Authority, name, certPath, keyPath string, usage x509.ExtKeyUsage, now time.Time) (Cert, error) {
	cert, _, err := readCert(certPath)
	if err != nil {
		return Cert{}, fmt.Errorf("load %s: %w (run pam-controlplane init --data-dir %s)", name, err, filepath.Dir(certPath))
	}
	if now.After(cert.NotAfter) {
		return Cert{}, fmt.Errorf("the %s %s expired on %s; remove %s and %s and run pam-controlplane init to issue a new one",
			name, certPath, day(cert.NotAfter), certPath, keyPath)
	}
	if err := checkLeaf(auth, certPath, keyPath, usage, now); err != nil {
		return Cert{}, err
	}
	names := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	return Cert{Name: name, Path: certPath, NotAfter: cert.NotAfter, Names: names}, nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
