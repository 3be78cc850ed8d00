package kernel

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fileCapCopy copies /usr/bin/id (not setuid) and gives it the file
// capability bit, effective and permitted, as setcap cap_X+ep would.
func fileCapCopy(t *testing.T, name string, capBit uint) string {
	t.Helper()
	path := setuidCopy(t, name)
	if err := os.Chmod(path, 0o755); err != nil { // no setuid: caps only
		t.Fatal(err)
	}
	// struct vfs_cap_data, revision 2, with the effective flag.
	var v [20]byte
	binary.LittleEndian.PutUint32(v[0:], 0x02000000|0x1)
	binary.LittleEndian.PutUint32(v[4:], uint32(1)<<(capBit%32)*boolU32(capBit < 32))
	binary.LittleEndian.PutUint32(v[12:], uint32(1)<<(capBit%32)*boolU32(capBit >= 32))
	if err := unix.Setxattr(path, "security.capability", v[:], 0); err != nil {
		t.Fatalf("set file capability on %s (file system without security xattrs?): %v", filepath.Dir(path), err)
	}
	return path
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// wantRunsAs runs path -u as uid and wants it to run, printing uid.
func wantRunsAs(t *testing.T, uid uint32, path, want string) {
	t.Helper()
	out, err := runAs(uid, path)
	if err != nil || out != want {
		t.Fatalf("%s as uid %d: %q, %v; want it to run and print %s", path, uid, out, err, want)
	}
}

func TestRootFileCapabilityGainNeedsAGrant(t *testing.T) {
	pinDir := setupRoot(t)
	privileged := fileCapCopy(t, "cap-dac", 2) // CAP_DAC_READ_SEARCH
	narrow := fileCapCopy(t, "cap-netraw", 13) // CAP_NET_RAW, as ping has
	wantRunsAs(t, testUID, privileged, "4242")

	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	wantDenied(t, testUID, privileged)
	wantRunsAs(t, testUID, narrow, "4242")

	if err := e.PutGrant(Grant{ID: "g-caps", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	wantRunsAs(t, testUID, privileged, "4242")
}
