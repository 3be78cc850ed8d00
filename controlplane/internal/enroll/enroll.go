// Package enroll admits hosts (join tokens traded for certificates) and
// registers people (TOTP enrollment).
package enroll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/proto/zpam/jointoken"
)

// Signer issues host certificates; *ca.Authority is one.
type Signer interface {
	SignHostCSR(csrDER []byte, hostID string, validity time.Duration, now time.Time) ([]byte, error)
}

// Config configures a Service.
type Config struct {
	Store  *store.Store
	Signer Signer
	// CAPEM is returned to enrolling hosts; CADER is what tokens pin.
	CAPEM   []byte
	CADER   []byte
	CertTTL time.Duration
	Now     func() time.Time
	// Enrolled is told of each enrollment attempt, for metrics.
	Enrolled func(ok bool)
	// Rotated is told of each certificate rotation, for metrics.
	Rotated func(ok bool)
}

// Service admits hosts and people.
type Service struct {
	cfg Config
}

// New makes a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CertTTL <= 0 {
		cfg.CertTTL = 24 * time.Hour
	}
	if cfg.Enrolled == nil {
		cfg.Enrolled = func(bool) {}
	}
	if cfg.Rotated == nil {
		cfg.Rotated = func(bool) {}
	}
	return &Service{cfg: cfg}
}

// Request is what an enrolling host sends.
type Request struct {
	JoinToken string
	CSRDER    []byte
	Hostname  string
	Facts     map[string]string
	Labels    map[string]string
}

// Result is what the host gets back.
type Result struct {
	HostID  string
	CertPEM []byte
	CAPEM   []byte
	Labels  map[string]string
}

// errBadToken hides which check failed: an attacker guessing tokens learns
// nothing from the answer.
var errBadToken = fmt.Errorf("join token is unknown, used or expired: %w", errdefs.ErrUnauthenticated)

// Enroll consumes the join token and issues the host certificate. The
// token is marked used in the transaction that creates the host, so it
// admits exactly one host even under concurrent calls.
func (s *Service) Enroll(ctx context.Context, req Request) (Result, error) {
	res, err := s.enroll(ctx, req)
	s.cfg.Enrolled(err == nil)
	return res, err
}

func (s *Service) enroll(ctx context.Context, req Request) (Result, error) {
	tok, err := jointoken.Parse(req.JoinToken)
	if err != nil {
		return Result{}, errBadToken
	}
	if err := checkLabels(req.Labels); err != nil {
		return Result{}, err
	}
	now, hostID := s.cfg.Now(), uuid.NewString()
	// Sign first: a bad CSR must not burn the token.
	certPEM, err := s.cfg.Signer.SignHostCSR(req.CSRDER, hostID, s.cfg.CertTTL, now)
	if err != nil {
		return Result{}, fmt.Errorf("%v: %w", err, errdefs.ErrInvalid)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return Result{}, err
	}
	var labels map[string]string
	err = s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		labels, err = admit(tx, tok.SecretHash(), hostID, req, now)
		if err != nil {
			return err
		}
		return tx.SetHostCert(hostID, cert.SerialNumber.Text(16), cert.NotAfter)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{HostID: hostID, CertPEM: certPEM, CAPEM: s.cfg.CAPEM, Labels: labels}, nil
}

func admit(tx *store.Tx, hash, hostID string, req Request, now time.Time) (map[string]string, error) {
	stored, err := tx.JoinToken(hash)
	if errors.Is(err, errdefs.ErrNotFound) || (err == nil && !now.Before(stored.ExpiresAt)) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	if err := tx.ConsumeJoinToken(hash, hostID, now); errors.Is(err, errdefs.ErrConflict) {
		return nil, errBadToken
	} else if err != nil {
		return nil, err
	}
	labels := mergeLabels(req.Labels, stored.Labels)
	host := store.Host{ID: hostID, Hostname: req.Hostname, Labels: labels, Facts: req.Facts, EnrolledAt: now}
	if err := tx.InsertHost(host); err != nil {
		return nil, err
	}
	return labels, tx.AppendAudit(store.AuditEvent{
		Kind: "host_enrolled", Actor: "host/" + hostID, HostID: hostID, At: now,
		Detail: map[string]any{"hostname": req.Hostname, "labels": labels},
	})
}

// mergeLabels lets the token's labels, chosen by an operator, override
// what the host asked for.
func mergeLabels(requested, token map[string]string) map[string]string {
	out := make(map[string]string, len(requested)+len(token))
	for k, v := range requested {
		out[k] = v
	}
	for k, v := range token {
		out[k] = v
	}
	return out
}
