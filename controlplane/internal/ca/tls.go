package ca

import (
	"crypto/tls"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/config"
)

// ServerTLS is the gRPC server's TLS config. Client certificates are
// verified when given but not required, because Enroll is called before the
// host has one; the auth interceptor demands them for every other RPC.
func ServerTLS(layout config.Layout, auth *Authority) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(layout.ServerCert(), layout.ServerKey())
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	// Present the CA after the leaf: a first-contact agent pins the server
	// by the CA fingerprint its join token carries.
	cert.Certificate = append(cert.Certificate, auth.Cert.Raw)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    auth.Pool(),
	}, nil
}

// BrowserTLS is the HTTPS config of the web console and /metrics: the
// same server certificate and chain as gRPC, but no client certificate is
// asked for, so browsers do not offer a certificate picker.
func BrowserTLS(layout config.Layout, auth *Authority) (*tls.Config, error) {
	cfg, err := ServerTLS(layout, auth)
	if err != nil {
		return nil, err
	}
	cfg.ClientAuth, cfg.ClientCAs = tls.NoClientCert, nil
	return cfg, nil
}
