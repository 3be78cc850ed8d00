package ca

import (
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/config"
)

func testAuthority(t *testing.T) *Authority {
	t.Helper()
	layout := config.Layout{Dir: t.TempDir()}
	if _, err := Init(layout, "", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, err := Load(layout)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestWorkloadCertificateIsAWorkloadIdentity(t *testing.T) {
	a := testAuthority(t)
	leaf, err := a.IssueWorkload("spiffe://zpam.example/ci/deploy", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(leaf.CertPEM)
	cert, _ := x509.ParseCertificate(block.Bytes)
	id, err := IdentityOf(cert)
	if err != nil || id.Kind != KindWorkload || id.Name != "spiffe://zpam.example/ci/deploy" || id.String() != id.Name {
		t.Fatalf("identity %+v, %v", id, err)
	}
	if err := a.Verify(cert, x509.ExtKeyUsageClientAuth, time.Now()); err != nil {
		t.Fatalf("a workload certificate must be a client certificate of this CA: %v", err)
	}
	for bad, want := range map[string]string{
		"spiffe://zpam.example":  "names only a trust domain",
		"https://zpam.example/x": "is not a SPIFFE ID",
		"spiffe://Bad_Domain/x":  "is not a SPIFFE ID",
	} {
		if _, err := a.IssueWorkload(bad, time.Hour, time.Now()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("IssueWorkload(%q) = %v, want %q", bad, err, want)
		}
	}
	if _, err := a.IssueWorkload("spiffe://zpam.example/ci/x", 365*24*time.Hour, time.Now()); err == nil {
		t.Error("a year-long workload certificate was issued")
	}
	two := &x509.Certificate{URIs: []*url.URL{{Scheme: "spiffe", Host: "a.example", Path: "/x"}, {Scheme: "spiffe", Host: "b.example", Path: "/y"}}}
	if _, err := IdentityOf(two); err == nil {
		t.Error("a certificate with two SPIFFE IDs was accepted")
	}
}
