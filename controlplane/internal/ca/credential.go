package ca

import (
	"fmt"
	"os"
	"path/filepath"
)

// Credential file names in the directory `user credential --out` writes,
// which pamctl --credential reads.
const (
	CredentialCert = "cert.pem"
	CredentialKey  = "key.pem"
	CredentialCA   = "ca.pem"
)

// WriteCredential writes leaf and the CA certificate into dir (created
// 0700), refusing to overwrite an existing credential.
func (a *Authority) WriteCredential(dir string, leaf Leaf) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	paths := []string{filepath.Join(dir, CredentialKey), filepath.Join(dir, CredentialCert), filepath.Join(dir, CredentialCA)}
	files := []struct {
		data []byte
		mode os.FileMode
	}{{leaf.KeyPEM, 0o600}, {leaf.CertPEM, 0o644}, {a.CertPEM, 0o644}}
	for i, f := range files {
		if err := writeNew(paths[i], f.data, f.mode); err != nil {
			return nil, fmt.Errorf("%w (a credential is already there; remove it or choose another --out)", err)
		}
	}
	return paths, nil
}
