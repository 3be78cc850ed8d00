// Package audit reads the kernel audit stream for the user-space records
// of sudo, su, sshd and login (PAM's USER_AUTH, USER_ACCT, USER_START, …,
// sudo's USER_CMD) and turns them into typed login events. It is the only
// package that imports go-libaudit.
package audit

import (
	"fmt"
	"strconv"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Record is one user-space audit record, typed.
type Record struct {
	Time     time.Time
	Sequence uint32
	Login    *commonv1.LoginEvent
}

// userTypes are the records the stream reports: what PAM and sudo write
// through the audit socket. Kernel records are ignored.
var userTypes = map[auparse.AuditMessageType]bool{
	auparse.AUDIT_USER_AUTH: true, auparse.AUDIT_USER_ACCT: true, auparse.AUDIT_USER_MGMT: true,
	auparse.AUDIT_CRED_ACQ: true, auparse.AUDIT_CRED_DISP: true, auparse.AUDIT_CRED_REFR: true,
	auparse.AUDIT_USER_START: true, auparse.AUDIT_USER_END: true, auparse.AUDIT_USER_ERR: true,
	auparse.AUDIT_USER_CHAUTHTOK: true, auparse.AUDIT_USER_LOGIN: true, auparse.AUDIT_USER_LOGOUT: true,
	auparse.AUDIT_USER_CMD: true, auparse.AUDIT_USER_ROLE_CHANGE: true, auparse.AUDIT_GRP_AUTH: true,
}

// unset is 4294967295, the kernel's unset audit id; auparse spells it
// "unset".
const unset = ^uint32(0)

// toRecord types one parsed audit message; ok is false for the records
// the stream does not report.
func toRecord(msg *auparse.AuditMessage) (Record, bool, error) {
	if !userTypes[msg.RecordType] {
		return Record{}, false, nil
	}
	data, err := msg.Data()
	if err != nil {
		return Record{}, false, fmt.Errorf("parse %s record %d: %w", msg.RecordType, msg.Sequence, err)
	}
	login := &commonv1.LoginEvent{
		RecordType: msg.RecordType.String(),
		Process: &commonv1.Process{
			Pid: id(data["pid"]), Uid: id(data["uid"]), Loginuid: id(data["auid"]), SessionId: id(data["ses"]),
		},
		Account:       data["acct"],
		Command:       data["cmd"],
		Cwd:           data["cwd"],
		Terminal:      data["terminal"],
		SourceAddress: sourceAddress(data),
		Exe:           data["exe"],
		Success:       data["result"] == "success",
		Fields:        data,
	}
	if login.Account == "" {
		login.Account = data["id"] // USER_MGMT and some PAM records name the account so
	}
	return Record{Time: msg.Timestamp, Sequence: msg.Sequence, Login: login}, true, nil
}

// sourceAddress is the remote address of a login (sshd sets addr, and
// hostname when it resolved one); "?" means none.
func sourceAddress(data map[string]string) string {
	for _, k := range []string{"addr", "hostname"} {
		if v := data[k]; v != "" && v != "?" {
			return v
		}
	}
	return ""
}

func id(s string) uint32 {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return unset
	}
	return uint32(n)
}
