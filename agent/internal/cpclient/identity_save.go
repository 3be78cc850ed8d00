package cpclient

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zpam/zpam/agent/internal/statefile"
)

// Save writes the identity to dir (created 0700). Each file is written to
// a temporary name and renamed, and host_id goes last, so a crash leaves
// either no identity or a complete one.
func (id *Identity) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	labels, err := json.Marshal(id.Labels)
	if err != nil {
		return fmt.Errorf("encode labels: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{pairFile, id.pairPEM(), 0o600},
		{caFile, id.CAPEM, 0o644},
		{labelsFile, labels, 0o644},
		{hostIDFile, []byte(id.HostID + "\n"), 0o644},
	}
	for _, f := range files {
		if err := statefile.Write(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	removeLegacyPair(dir)
	return nil
}

// SaveCert replaces the key and certificate after a rotation: one file,
// one rename, so the stored identity is the old pair or the new one and
// never a mix.
func (id *Identity) SaveCert(dir string) error {
	if err := statefile.Write(filepath.Join(dir, pairFile), id.pairPEM(), 0o600); err != nil {
		return err
	}
	removeLegacyPair(dir)
	return nil
}

func (id *Identity) pairPEM() []byte {
	return append(append([]byte(nil), id.keyPEM...), certChainPEM(id.Cert.Certificate)...)
}

// removeLegacyPair deletes host.key and host.crt once host.pem holds the
// pair; LoadIdentity prefers host.pem, so a failure here is harmless.
func removeLegacyPair(dir string) {
	for _, name := range []string{keyFile, certFile} {
		_ = os.Remove(filepath.Join(dir, name))
	}
}

func certChainPEM(ders [][]byte) []byte {
	var out []byte
	for _, der := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}
