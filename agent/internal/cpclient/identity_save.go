package cpclient

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
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
		{keyFile, id.keyPEM, 0o600},
		{certFile, certChainPEM(id.Cert.Certificate), 0o644},
		{caFile, id.CAPEM, 0o644},
		{labelsFile, labels, 0o644},
		{hostIDFile, []byte(id.HostID + "\n"), 0o644},
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func certChainPEM(ders [][]byte) []byte {
	var out []byte
	for _, der := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// writeAtomic creates the file with its final mode before any byte is
// written, so the key is never readable by others, even briefly.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
