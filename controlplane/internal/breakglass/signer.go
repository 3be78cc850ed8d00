// Package breakglass signs the offline break-glass policy agents cache:
// an Ed25519 key in the data directory, certified by the control plane CA
// so that an agent checks a signature against the CA it already trusts.
package breakglass

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
)

// renewBefore is how early before expiry the signer certificate is
// replaced at start.
const renewBefore = 30 * 24 * time.Hour

// Signer signs break-glass policies.
type Signer struct {
	key     ed25519.PrivateKey
	certDER []byte
}

// LoadOrCreate reads the signing key and its certificate from the data
// dir, creating the key if missing and (re)issuing the certificate when it
// is missing, not for this key, or close to expiry.
func LoadOrCreate(layout config.Layout, auth *ca.Authority, now time.Time) (*Signer, error) {
	key, err := loadOrCreateKey(layout.BreakGlassKey())
	if err != nil {
		return nil, err
	}
	der, err := currentCert(layout.BreakGlassCert(), key, now)
	if err != nil {
		return nil, err
	}
	if der == nil {
		certPEM, err := auth.IssueBreakGlassSigner(key.Public().(ed25519.PublicKey), now)
		if err != nil {
			return nil, fmt.Errorf("certify break-glass signer: %w", err)
		}
		if err := writeReplace(layout.BreakGlassCert(), certPEM, 0o644); err != nil {
			return nil, err
		}
		block, _ := pem.Decode(certPEM)
		der = block.Bytes
	}
	return &Signer{key: key, certDER: der}, nil
}

// Sign returns the signature of msg and the signer's certificate (DER).
func (s *Signer) Sign(msg []byte) (sig, certDER []byte) {
	return ed25519.Sign(s.key, msg), s.certDER
}

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read break-glass key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM key; remove it to make a new one", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	key, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("%s is not an Ed25519 key; remove it to make a new one", path)
	}
	return key, nil
}

func createKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate break-glass key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode break-glass key: %w", err)
	}
	if err := writeReplace(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// currentCert returns the stored certificate if it certifies key and
// stays valid long enough, nil if a new one is needed.
func currentCert(path string, key ed25519.PrivateKey, now time.Time) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read break-glass certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !key.Public().(ed25519.PublicKey).Equal(cert.PublicKey) || now.Add(renewBefore).After(cert.NotAfter) {
		return nil, nil
	}
	return block.Bytes, nil
}

// writeReplace writes path through a temporary file and a rename.
func writeReplace(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
