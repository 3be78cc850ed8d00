package enroll

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Rotated is a renewed host certificate.
type Rotated struct {
	CertPEM   []byte
	ExpiresAt time.Time
}

// Rotate certifies a new key of hostID, which the caller authenticated by
// its current certificate. A removed host gets nothing.
func (s *Service) Rotate(ctx context.Context, hostID string, csrDER []byte) (Rotated, error) {
	res, err := s.rotate(ctx, hostID, csrDER)
	s.cfg.Rotated(err == nil)
	return res, err
}

func (s *Service) rotate(ctx context.Context, hostID string, csrDER []byte) (Rotated, error) {
	now := s.cfg.Now()
	certPEM, err := s.cfg.Signer.SignHostCSR(csrDER, hostID, s.cfg.CertTTL, now)
	if err != nil {
		return Rotated{}, fmt.Errorf("%v: %w", err, errdefs.ErrInvalid)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return Rotated{}, err
	}
	err = s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		h, err := tx.Host(hostID)
		if err != nil {
			return err
		}
		if !h.RemovedAt.IsZero() {
			return fmt.Errorf("host %s was removed: %w", hostID, errdefs.ErrPermission)
		}
		if err := tx.SetHostCert(hostID, cert.SerialNumber.Text(16), cert.NotAfter); err != nil {
			return err
		}
		return tx.AppendAudit(store.AuditEvent{Kind: "host_certificate_rotated", Actor: "host/" + hostID, HostID: hostID, At: now,
			Detail: map[string]any{"serial": cert.SerialNumber.Text(16), "expires_at": cert.NotAfter, "previous_serial": h.CertSerial}})
	})
	if err != nil {
		return Rotated{}, err
	}
	return Rotated{CertPEM: certPEM, ExpiresAt: cert.NotAfter}, nil
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("signer returned no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
