// Package config names the files of a control plane data directory and
// validates the options of `serve`.
package config

import "path/filepath"

// Layout is the set of files in a data directory. Every command derives its
// paths from here so that init, serve and token agree.
type Layout struct {
	Dir string
}

// CACert is the CA certificate agents and admins trust.
func (l Layout) CACert() string { return filepath.Join(l.Dir, "ca.pem") }

// CAKey is the CA private key (0600).
func (l Layout) CAKey() string { return filepath.Join(l.Dir, "ca-key.pem") }

// ServerCert is the gRPC server certificate.
func (l Layout) ServerCert() string { return filepath.Join(l.Dir, "server.pem") }

// ServerKey is the gRPC server private key (0600).
func (l Layout) ServerKey() string { return filepath.Join(l.Dir, "server-key.pem") }

// AdminCert is the admin client certificate issued by init.
func (l Layout) AdminCert() string { return filepath.Join(l.Dir, "admin.pem") }

// AdminKey is the admin client private key (0600).
func (l Layout) AdminKey() string { return filepath.Join(l.Dir, "admin-key.pem") }

// Policy is the policy file serve loads and reloads.
func (l Layout) Policy() string { return filepath.Join(l.Dir, "policy.yaml") }

// Database is the default SQLite database.
func (l Layout) Database() string { return filepath.Join(l.Dir, "zpam.db") }

// BreakGlassKey is the Ed25519 key that signs offline break-glass
// policies (0600).
func (l Layout) BreakGlassKey() string { return filepath.Join(l.Dir, "breakglass-key.pem") }

// BreakGlassCert is the CA's certificate for BreakGlassKey, which agents
// check a signature against.
func (l Layout) BreakGlassCert() string { return filepath.Join(l.Dir, "breakglass.pem") }
