package audit

import (
	"testing"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Records as sudo and sshd write them on Debian 12.
const (
	userCmd       = `audit(1700000000.123:4242): pid=1234 uid=1001 auid=1001 ses=7 subj=unconfined msg='cwd="/home/alice" cmd=6C73202D6C61202F726F6F74 exe="/usr/bin/sudo" terminal=pts/2 res=success'`
	userLogin     = `audit(1700000001.000:4243): pid=999 uid=0 auid=1001 ses=8 msg='op=login id=1001 exe="/usr/sbin/sshd" hostname=? addr=192.0.2.10 terminal=/dev/pts/3 res=failed'`
	syscallRecord = `audit(1700000002.000:4244): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=7 comm="ls" exe="/usr/bin/ls" key=(null)`
)

func parse(t *testing.T, typ auparse.AuditMessageType, line string) *auparse.AuditMessage {
	t.Helper()
	msg, err := auparse.Parse(typ, line)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestUserCmdIsTyped(t *testing.T) {
	r, ok, err := toRecord(parse(t, auparse.AUDIT_USER_CMD, userCmd))
	if err != nil || !ok {
		t.Fatalf("toRecord: %v, %v", ok, err)
	}
	l := r.Login
	if l.GetRecordType() != "USER_CMD" || l.GetCommand() != "ls -la /root" || l.GetCwd() != "/home/alice" ||
		l.GetExe() != "/usr/bin/sudo" || l.GetTerminal() != "pts/2" || !l.GetSuccess() {
		t.Fatalf("USER_CMD typed as %v", l)
	}
	if p := l.GetProcess(); p.GetPid() != 1234 || p.GetUid() != 1001 || p.GetLoginuid() != 1001 || p.GetSessionId() != 7 {
		t.Fatalf("process %v; want pid 1234, uid/auid 1001, session 7", p)
	}
	if r.Sequence != 4242 || r.Time.Unix() != 1700000000 || l.GetFields()["subj_user"] != "unconfined" {
		t.Fatalf("sequence %d time %s fields %v", r.Sequence, r.Time, l.GetFields())
	}
}

func TestFailedLoginKeepsSourceAddress(t *testing.T) {
	r, ok, err := toRecord(parse(t, auparse.AUDIT_USER_LOGIN, userLogin))
	if err != nil || !ok {
		t.Fatalf("toRecord: %v, %v", ok, err)
	}
	if l := r.Login; l.GetSourceAddress() != "192.0.2.10" || l.GetSuccess() || l.GetAccount() != "1001" || l.GetTerminal() != "/dev/pts/3" {
		t.Fatalf("USER_LOGIN typed as %v; want addr 192.0.2.10, failed, account 1001", l)
	}
}

func TestKernelRecordsAreNotReported(t *testing.T) {
	if _, ok, err := toRecord(parse(t, auparse.AUDIT_SYSCALL, syscallRecord)); ok || err != nil {
		t.Fatalf("a SYSCALL record was reported (%v, %v)", ok, err)
	}
}
