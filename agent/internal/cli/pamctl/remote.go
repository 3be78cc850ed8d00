package pamctl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/cli"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Files of a credential directory, as pam-controlplane user credential
// --out writes them.
const (
	credCert = "cert.pem"
	credKey  = "key.pem"
	credCA   = "ca.pem"
)

// remote is the control plane's AdminService with a person's or an
// admin's client certificate.
type remote struct {
	conn   *grpc.ClientConn
	api    adminv1.AdminServiceClient
	server string
	dir    string
	// me is the name in the certificate, to tell own requests apart.
	me string
}

func dialRemote(server, dir string) (*remote, error) {
	tlsConf, me, err := loadCredential(dir)
	if err != nil {
		return nil, cli.Exit(cli.ExitUsage, "cannot use the credential in %s: %v (issue one with: pam-controlplane user credential NAME --out %s)", dir, err, dir)
	}
	conn, err := grpc.NewClient(server, grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)))
	if err != nil {
		return nil, cli.Usage("--server %q is not HOST:PORT: %v", server, err)
	}
	return &remote{conn: conn, api: adminv1.NewAdminServiceClient(conn), server: server, dir: dir, me: me}, nil
}

// loadCredential reads DIR/{cert,key,ca}.pem: the client certificate and
// the CA that must have signed the server's.
func loadCredential(dir string) (*tls.Config, string, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, credCert), filepath.Join(dir, credKey))
	if err != nil {
		return nil, "", err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, credCA))
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, "", fmt.Errorf("%s holds no PEM certificate", credCA)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, "", err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, certName(leaf), nil
}

// certName is the name of the zpam://person/NAME or zpam://admin/NAME SAN.
func certName(c *x509.Certificate) string {
	for _, u := range c.URIs {
		if u.Scheme == "zpam" {
			return strings.TrimPrefix(u.Path, "/")
		}
	}
	return ""
}

func (r *remote) List(ctx context.Context) ([]*commonv1.Request, []*commonv1.Request, error) {
	resp, err := r.api.ListRequests(ctx, &adminv1.ListRequestsRequest{})
	if err != nil {
		return nil, nil, err
	}
	var toApprove, own []*commonv1.Request
	for _, req := range resp.GetRequests() {
		switch {
		case req.GetUser() == r.me:
			own = append(own, req)
		case req.GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL:
			toApprove = append(toApprove, req)
		}
	}
	return toApprove, own, nil
}

func (r *remote) Approve(ctx context.Context, id, comment, otp string) (*commonv1.Request, error) {
	return r.api.Approve(ctx, &adminv1.DecideRequest{RequestId: id, Comment: comment, Otp: otp})
}

func (r *remote) Deny(ctx context.Context, id, comment string) (*commonv1.Request, error) {
	return r.api.Deny(ctx, &adminv1.DecideRequest{RequestId: id, Comment: comment})
}

func (r *remote) Revoke(ctx context.Context, id, comment string, terminate bool) (*commonv1.Request, error) {
	return r.api.Revoke(ctx, &adminv1.RevokeRequest{Id: id, Comment: comment, Terminate: terminate})
}

func (r *remote) explain(err error) *cli.ExitError {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return cli.Exit(cli.ExitUnreachable, "cannot reach the control plane at %s with the credential in %s: %s (is pam-controlplane serve listening there?)", r.server, r.dir, st.Message())
	case codes.Unauthenticated:
		return cli.Exit(cli.ExitUnreachable, "the control plane at %s does not accept the credential in %s: %s", r.server, r.dir, st.Message())
	}
	return statusExit(st)
}

func (r *remote) Close() error { return r.conn.Close() }
