package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// addPerson registers name with the control plane (pam-controlplane user
// add) and returns a source of their current TOTP codes, as their
// authenticator app would show them.
func (s *stack) addPerson(t *testing.T, name string, groups ...string) func() string {
	t.Helper()
	args := []string{s.path("pam-controlplane"), "user", "add", name, "--data-dir", s.dataDir}
	if len(groups) > 0 {
		args = append(args, "--groups", strings.Join(groups, ","))
	}
	uri := strings.TrimSpace(run(t, args...))
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatalf("user add printed %q, not an otpauth URI: %v", uri, err)
	}
	last := ""
	return func() string {
		t.Helper()
		// A code is accepted once: wait for the next step if this one
		// was used already.
		for {
			code, err := totp.GenerateCode(key.Secret(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if code != last {
				last = code
				return code
			}
			time.Sleep(time.Second)
		}
	}
}

// pamctl is the command line of pamctl on the stack's socket.
func (s *stack) pamctl(args ...string) []string {
	return append([]string{s.path("pamctl"), "--socket", s.sock}, args...)
}

// shellLine quotes argv for /bin/sh.
func shellLine(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// TestRootElevateWithTOTPOnATerminal is the acceptance of the terminal
// flow: a non-root user's sudo is denied; pamctl elevate under an MFA
// policy asks for a code on the terminal, does not echo it, accepts a
// valid TOTP; then sudo -n id -u prints 0.
func TestRootElevateWithTOTPOnATerminal(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-mfa")[0]
	s := startStack(t, `roles:
  - name: e2e-mfa
    users: [zpam-e2e-mfa]
    max_duration: 10m
    auto_approve: true
    mfa: true
`)
	code := s.addPerson(t, u.Username)
	term := onTerminal(t, u, "sudo -n true; echo before=$?; "+shellLine(s.pamctl("elevate", "--for", "2m", "--reason", "test")...)+
		"; echo elevate=$?; sudo -n id -u; echo after=$?")
	term.waitFor(t, "before=137") // killed: no grant yet
	term.waitFor(t, "one-time code: ")
	typed := code()
	term.typeIn(t, typed+"\r")
	term.waitFor(t, "elevate=0")
	term.waitFor(t, "after=0")
	screen := term.screen()
	if strings.Contains(screen, typed) {
		t.Fatalf("the typed code %s shows on the terminal: %q", typed, screen)
	}
	if !regexp.MustCompile(`granted: grant \S+ active until .* UTC \(1m[0-5]\ds left\), scope user\r\nend it early with: pamctl revoke \S+\r\n`).MatchString(screen) {
		t.Fatalf("the terminal does not show the grant and how to end it: %q", screen)
	}
	if !strings.Contains(screen, "\r\n0\r\nafter=0") {
		t.Fatalf("sudo -n id -u did not print 0 after the grant: %q", screen)
	}
}

// TestRootApprovalsThroughTheAgent: the requester's terminal shows the
// spinner, the elapsed time and who must approve; the approver, another
// user on the host, sees the request with pamctl requests and approves it
// through the local agent, which needs their one-time code; nobody
// approves their own request.
func TestRootApprovalsThroughTheAgent(t *testing.T) {
	users := setupRoot(t, "zpam-e2e-req", "zpam-e2e-appr")
	req, appr := users[0], users[1]
	s := startStack(t, `roles:
  - name: e2e-approved
    users: [zpam-e2e-req]
    max_duration: 10m
    approvals: {count: 1, from: [zpam-e2e-appr]}
`)
	s.addPerson(t, req.Username)
	apprCode := s.addPerson(t, appr.Username)
	term := onTerminal(t, req, shellLine(s.pamctl("elevate", "--for", "5m", "--reason", "INC-7 disk full")...)+"; echo elevate=$?; sudo -n id -u")
	term.waitFor(t, "is waiting for approval (1 more from zpam-e2e-appr) — 2s elapsed")
	if !strings.ContainsAny(term.screen(), "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
		t.Fatalf("no spinner on the terminal: %q", term.screen())
	}

	o := appr.run(s.pamctl("requests", "--json")...)
	var list struct {
		ToApprove []struct {
			ID, User, Reason string
		} `json:"to_approve"`
	}
	if err := json.Unmarshal([]byte(o.Output), &list); err != nil || !o.ok() || len(list.ToApprove) != 1 || list.ToApprove[0].User != req.Username {
		t.Fatalf("pamctl requests --json as the approver: %v (%v); want the one request of %s", o, err, req.Username)
	}
	id := list.ToApprove[0].ID
	if o := appr.run(s.pamctl("requests")...); !strings.Contains(o.Output, id) || !strings.Contains(o.Output, "INC-7 disk full") {
		t.Fatalf("pamctl requests table: %v", o)
	}
	if o := req.run(s.pamctl("approve", id, "--otp", "000000")...); o.Exit != 1 || !strings.Contains(o.Output, "cannot approve their own request") {
		t.Fatalf("self-approval: %v; want exit 1 and the reason", o)
	}
	if o := appr.run(s.pamctl("approve", id)...); o.Exit != 2 || !strings.Contains(o.Output, "needs your one-time code; pass --otp CODE") {
		t.Fatalf("approval without a code and no terminal: %v; want the usage sentence", o)
	}
	if o := appr.run(s.pamctl("approve", id, "--otp", apprCode(), "--comment", "ok")...); !o.ok() || !strings.Contains(o.Output, "approved request "+id) {
		t.Fatalf("approval with the approver's code: %v", o)
	}
	term.waitFor(t, "elevate=0")
	term.waitFor(t, "\r\n0\r\n")

	t.Run("off-host with the approver's own credential", func(t *testing.T) {
		cred := filepath.Join(s.work, "appr-credential")
		run(t, s.path("pam-controlplane"), "user", "credential", appr.Username, "--out", cred, "--data-dir", s.dataDir)
		remote := func(args ...string) []string {
			return append([]string{s.path("pamctl"), "--server", s.listen, "--credential", cred}, args...)
		}
		term := onTerminal(t, req, shellLine(s.pamctl("elevate", "--for", "5m", "--reason", "INC-8")...)+"; echo elevate=$?")
		term.waitFor(t, "is waiting for approval")
		var list struct {
			ToApprove []struct{ ID string } `json:"to_approve"`
		}
		if err := json.Unmarshal([]byte(run(t, remote("requests", "--json")...)), &list); err != nil || len(list.ToApprove) != 1 {
			t.Fatalf("pamctl requests --server: %+v %v; want one request", list, err)
		}
		out := run(t, remote("approve", list.ToApprove[0].ID, "--comment", "from my laptop")...)
		if !strings.Contains(out, "approved request "+list.ToApprove[0].ID) {
			t.Fatalf("pamctl approve --server printed %q", out)
		}
		term.waitFor(t, "elevate=0")
		bad := filepath.Join(s.work, "no-credential")
		o := req.run(s.path("pamctl"), "requests", "--server", s.listen, "--credential", bad)
		if o.Exit != 2 || !strings.Contains(o.Output, "pam-controlplane user credential NAME --out "+bad) {
			t.Fatalf("pamctl --server without a credential: %v; want exit 2 and how to get one", o)
		}
	})
}

// TestRootAnotherUsersGrantThroughTheSocket: through the agent's socket a
// user cannot read, revoke or ask for another user's grant; the owner can
// end it, and sudo stops at once.
func TestRootAnotherUsersGrantThroughTheSocket(t *testing.T) {
	users := setupRoot(t, "zpam-e2e-own", "zpam-e2e-oth")
	owner, other := users[0], users[1]
	s := startStack(t, selfService("user", owner.Username, other.Username))
	g := s.elevate(t, owner)

	if st := s.status(t, other); len(st.Grants) != 0 || fmt.Sprint(st.UID) != other.Uid {
		t.Fatalf("the other user's status shows %+v; want their own uid and no grant", st)
	}
	if o := other.run(s.pamctl("revoke", g.ID)...); o.Exit != 1 || !strings.Contains(o.Output, "may revoke only their own grants") {
		t.Fatalf("revoking another user's grant: %v; want exit 1 and why", o)
	}
	if o := other.run(s.pamctl("requests", "--json")...); !o.ok() || strings.Contains(o.Output, g.RequestID) {
		t.Fatalf("the other user's requests list shows the owner's request: %v", o)
	}
	wantRoot(t, "the owner's sudo after the other user tried", owner.run("sudo", "-n", "id", "-u"))
	wantKilled(t, "the other user's sudo: the owner's grant is not theirs", other.run("sudo", "-n", "true"))
	mine := s.elevate(t, other)
	if st := s.status(t, other); len(st.Grants) != 1 || st.Grants[0].ID != mine.ID {
		t.Fatalf("the other user's own elevate gave %+v; want their own grant", st.Grants)
	}

	if o := owner.run(s.pamctl("revoke", g.ID, "--comment", "done")...); !o.ok() || !strings.Contains(o.Output, "revoked grant "+g.ID) {
		t.Fatalf("the owner revoking their grant: %v", o)
	}
	killedWithin(t, owner, time.Now(), 2*time.Second)
}

// TestRootRecordedShellReplaysTheSameOutput: a role with record: true
// (and mfa, asked for on the terminal before the shell starts) admits
// only pamctl elevate --shell; the shell's sudo works inside it and
// nowhere else; a resize reaches the shell and the recording; the replay
// shows what the terminal showed; another user cannot replay it; a
// revoked grant ends the shell.
func TestRootRecordedShellReplaysTheSameOutput(t *testing.T) {
	users := setupRoot(t, "zpam-e2e-rec", "zpam-e2e-peek")
	u, peek := users[0], users[1]
	s := startStack(t, `roles:
  - name: e2e-recorded
    users: [zpam-e2e-rec]
    max_duration: 10m
    auto_approve: true
    record: true
    mfa: true
`)
	code := s.addPerson(t, u.Username)
	if o := u.run(s.pamctl("elevate", "--for", "2m", "--reason", "unrecorded")...); o.Exit != 1 || !strings.Contains(o.Output, "run: pamctl elevate --shell") {
		t.Fatalf("an unrecorded elevate under a record role: %v; want it denied, saying how", o)
	}

	term := onTerminal(t, u, shellLine(s.pamctl("elevate", "--shell", "--for", "2m", "--reason", "recorded")...)+"; echo shell=$?")
	term.waitFor(t, "one-time code: ")
	typed := code()
	term.typeIn(t, typed+"\r")
	term.waitFor(t, "recorded root shell (sudo -i)")
	term.typeIn(t, "id -u; echo rec-marker-$((6*7))\r")
	term.waitFor(t, "rec-marker-42")
	wantKilled(t, "sudo outside the recorded shell", u.run("sudo", "-n", "true"))
	term.resize(t, 100, 30)
	time.Sleep(200 * time.Millisecond) // SIGWINCH is asynchronous
	term.typeIn(t, "stty size\r")
	term.waitFor(t, "30 100")
	term.typeIn(t, "exit\r")
	term.waitFor(t, "shell=0")
	m := regexp.MustCompile(`shell ended: the shell exited; recording (\S+): replay with: pamctl replay (\S+)`).FindStringSubmatch(term.screen())
	if m == nil || m[1] != m[2] {
		t.Fatalf("the terminal does not name the recording: %q", term.screen())
	}
	id := m[1]
	waitFor(t, "the finished shell's grant given back", 5*time.Second, func() bool { return len(s.status(t, u).Grants) == 0 })

	raw := u.run(s.pamctl("replay", id, "--raw")...)
	lines := strings.Split(strings.TrimSpace(raw.Output), "\n")
	if !raw.ok() || !strings.HasPrefix(lines[0], `{"version":2,"width":`) || !strings.Contains(raw.Output, `"r","100x30"`) || !strings.Contains(raw.Output, `"i","exit\r"`) {
		t.Fatalf("pamctl replay --raw: %v; want asciicast v2 with the resize and the input", raw)
	}
	if strings.Contains(raw.Output, typed) || strings.Contains(term.screen(), typed) {
		t.Fatalf("the one-time code %s is on the terminal or in the recording", typed)
	}
	if st, err := os.Stat(filepath.Join(s.work, "state", "recordings")); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("recordings dir: %v %v; want 0700, root's", st, err)
	}
	played := u.run(s.pamctl("replay", id, "--speed", "1000", "--max-idle", "0")...)
	if !played.ok() || !strings.Contains(played.Output, "rec-marker-42") || !strings.Contains(played.Output, "30 100") {
		t.Fatalf("pamctl replay: %v", played)
	}
	if !strings.Contains(term.screen(), played.Output) {
		t.Fatalf("the replay differs from what the terminal showed:\nreplay: %q\nscreen: %q", played.Output, term.screen())
	}
	waitFor(t, "the recording shipped to the control plane, whole", 20*time.Second, func() bool {
		return shippedRecording(t, s, id) == raw.Output
	})
	admin := filepath.Join(s.work, "ops-credential")
	run(t, s.path("pam-controlplane"), "user", "credential", "ops", "--admin", "--out", admin, "--data-dir", s.dataDir)
	off := run(t, s.path("pamctl"), "replay", id, "--raw", "--server", s.listen, "--credential", admin)
	if off != raw.Output {
		t.Fatalf("pamctl replay --server gives %q; want the file the agent kept, %q", off, raw.Output)
	}
	if o := peek.run(s.pamctl("replay", id)...); o.Exit != 1 || !strings.Contains(o.Output, "no recording "+id+" of yours") {
		t.Fatalf("another user replaying it: %v; want exit 1 and why", o)
	}

	t.Run("the shell ends with its grant", func(t *testing.T) {
		term := onTerminal(t, u, shellLine(s.pamctl("elevate", "--shell", "--for", "2m", "--reason", "revoked")...)+"; echo shell=$?")
		term.waitFor(t, "one-time code: ")
		term.typeIn(t, code()+"\r")
		term.waitFor(t, "recorded root shell (sudo -i)")
		term.typeIn(t, "echo inside-$((1+1))\r")
		term.waitFor(t, "inside-2")
		grants := s.status(t, u).Grants
		if len(grants) != 1 {
			t.Fatalf("status lists %+v; want the shell's grant", grants)
		}
		s.revoke(t, grants[0].ID)
		term.waitFor(t, fmt.Sprintf("[pam-agent: grant %s ended; the elevated shell is closed]", grants[0].ID))
		term.waitFor(t, "shell ended: the grant ended")
		term.waitFor(t, "shell=0")
	})
}

// shippedRecording reassembles recording id from the EVENT_KIND_RECORDING
// chunks the control plane stored, as pamctl audit shows them to root.
func shippedRecording(t *testing.T, s *stack, id string) string {
	t.Helper()
	out := run(t, s.pamctl("audit", "--kind", "recording", "--json")...)
	chunks := map[uint32]string{}
	final := -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Detail struct {
				RecordingID string `json:"recording_id"`
				Seq         uint32 `json:"seq"`
				Asciicast   []byte `json:"asciicast"` // base64 in protojson
				Final       bool   `json:"final"`
			} `json:"detail"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Detail.RecordingID != id {
			continue
		}
		chunks[ev.Detail.Seq] = string(ev.Detail.Asciicast)
		if ev.Detail.Final {
			final = int(ev.Detail.Seq)
		}
	}
	var b strings.Builder
	for seq := 0; seq <= final; seq++ {
		c, ok := chunks[uint32(seq)]
		if !ok {
			return ""
		}
		b.WriteString(c)
	}
	return b.String()
}
