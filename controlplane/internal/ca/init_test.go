package ca

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/config"
)

func actions(res []FileResult) map[string]Action {
	out := map[string]Action{}
	for _, r := range res {
		out[filepath.Base(r.Path)] = r.Action
	}
	return out
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestInitServerNames: the server certificate is for the host, the names
// asked for and loopback; init again with the same names changes nothing
// (on another host too: a replica's copied directory), and with a new name
// reissues the server certificate alone, under the same CA.
func TestInitServerNames(t *testing.T) {
	layout := config.Layout{Dir: t.TempDir()}
	now := time.Now()
	if _, err := Init(layout, "cp-host", []string{"cp.example.com", "10.0.0.5"}, now); err != nil {
		t.Fatal(err)
	}
	certs, err := Check(layout, now)
	if err != nil {
		t.Fatal(err)
	}
	server, _, err := readCert(layout.ServerCert())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"localhost", "127.0.0.1", "::1", "cp-host", "cp.example.com", "10.0.0.5"} {
		if err := server.VerifyHostname(n); err != nil {
			t.Errorf("server certificate (%v) not valid for %s: %v", certs[1].Names, n, err)
		}
	}
	ca, serverPEM := read(t, layout.CACert()), read(t, layout.ServerCert())

	res, err := Init(layout, "replica-host", []string{"cp.example.com", "10.0.0.5"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for f, a := range actions(res) {
		if a != Kept {
			t.Errorf("init again with the same names: %s %s, want kept", a, f)
		}
	}
	if !bytes.Equal(serverPEM, read(t, layout.ServerCert())) {
		t.Error("init again with the same names rewrote server.pem")
	}

	res, err = Init(layout, "other-host", []string{"cp.example.com", "cp2.example.com"}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(res)
	if got["server.pem"] != Reissued || got["server-key.pem"] != Reissued || got["ca.pem"] != Kept || got["admin.pem"] != Kept {
		t.Fatalf("init with a new name: %v, want server.pem and its key reissued, the rest kept", got)
	}
	if !bytes.Equal(ca, read(t, layout.CACert())) {
		t.Fatal("reissuing the server certificate changed the CA")
	}
	if _, err := Check(layout, now); err != nil {
		t.Fatalf("after reissue: %v", err)
	}
	server, _, _ = readCert(layout.ServerCert())
	for _, n := range []string{"cp.example.com", "cp2.example.com", "127.0.0.1"} {
		if err := server.VerifyHostname(n); err != nil {
			t.Errorf("reissued certificate not valid for %s: %v", n, err)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(layout.Dir, "*.new")); len(matches) > 0 {
		t.Errorf("reissue left %v", matches)
	}
}
