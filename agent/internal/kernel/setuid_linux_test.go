package kernel

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a setuid-root program that drops
// to its caller's uid (keeping saved uid 0) and, when told, takes euid 0
// back with setresuid: the setuid-family escalation.
const helperEnv = "ZPAM_KERNEL_TEST_SETUID_HELPER"

// spawnEnv makes the test binary run /bin/true with each of its
// arguments in turn, as a child: a process tree below an escalation.
const spawnEnv = "ZPAM_KERNEL_TEST_SPAWN"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(setuidHelper())
	}
	if os.Getenv(spawnEnv) == "1" {
		os.Exit(spawnChildren(os.Args[1:]))
	}
	if spec := os.Getenv(inFlightEnv); spec != "" {
		os.Exit(inFlightHelper(spec))
	}
	os.Exit(m.Run())
}

func spawnChildren(args []string) int {
	for _, a := range args {
		if err := exec.Command("/bin/true", a).Run(); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	return 0
}

func setuidHelper() int {
	ruid := syscall.Getuid()
	if err := syscall.Setresuid(-1, ruid, -1); err != nil {
		fmt.Printf("drop: %v\n", err)
		return 1
	}
	fmt.Println("dropped")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return 1
	}
	if err := syscall.Setresuid(-1, 0, -1); err != nil {
		fmt.Printf("regain: %v\n", err)
		return 1
	}
	fmt.Printf("euid=%d\n", syscall.Geteuid())
	return 0
}

// setuidSelf copies this test binary as a setuid-root program.
func setuidSelf(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return setuidCopyOf(t, self, "regain-root")
}

// regainRoot starts the helper as uid (under a grant, so its exec is
// allowed), lets it drop euid, runs between(), then asks it to regain euid
// 0. It returns what the helper printed last and how it ended.
func regainRoot(t *testing.T, e *Enforcer, uid uint32, path string, between func()) (string, error) {
	t.Helper()
	if err := e.PutGrant(Grant{ID: "g-exec", UID: uid, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	cmd.Env = []string{helperEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, NoSetGroups: true}}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start setuid helper: %v", err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); strings.TrimSpace(line) != "dropped" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("setuid helper did not drop euid: %q, %v", line, err)
	}
	between()
	fmt.Fprintln(stdin, "go")
	rest, _ := io.ReadAll(r)
	return strings.TrimSpace(string(rest)), cmd.Wait()
}

func TestRootSetuidFamilyGainingRootNeedsAGrant(t *testing.T) {
	pinDir := setupRoot(t)
	mode := enforcingMode(t)
	helper := setuidSelf(t)
	e := openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	defer e.Close()
	if len(e.Gaps()) != 0 {
		t.Fatalf("mode %s does not cover every escalation path here: %v", mode, e.Gaps())
	}

	// Allowed path: the grant is still live when it takes root back.
	out, err := regainRoot(t, e, testUID, helper, func() {})
	if err != nil || out != "euid=0" {
		t.Fatalf("regaining root under a grant: %q, %v; want euid=0", out, err)
	}

	// The grant ends while the process waits with saved uid 0.
	out, err = regainRoot(t, e, testUID, helper, func() {
		if err := e.DeleteGrant(testUID, AnySession); err != nil {
			t.Fatal(err)
		}
	})
	switch mode {
	case ModeLSM:
		if err == nil || !strings.Contains(out, "operation not permitted") {
			t.Fatalf("regaining root without a grant (lsm): %q, %v; want setresuid EPERM", out, err)
		}
	default:
		if !killed(err) || out != "" {
			t.Fatalf("regaining root without a grant (signal): %q, %v; want SIGKILL before it returns", out, err)
		}
	}
	ev := waitEvent(t, e, EventEscalationDenied)
	for ev.Via != "setuid" {
		ev = waitEvent(t, e, EventEscalationDenied)
	}
	if ev.UID != testUID {
		t.Fatalf("setuid denial event %+v, want uid %d", ev, testUID)
	}
}
