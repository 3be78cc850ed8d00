package detect

// Writers are programs that change the files their arguments name. A
// residue report lists the sensitive paths they named under a grant:
// evidence of intent, not proof of a change (the host's snapshot is).
var Writers = []string{
	"tee", "cp", "mv", "install", "ln", "rsync", "dd", "sed", "ed", "ex", "vi", "vim", "nvim", "nano", "pico", "emacs",
	"joe", "mcedit", "sudoedit", "touch", "chmod", "chown", "chgrp", "chattr", "setfacl", "rm", "unlink", "truncate",
	"shred", "patch", "mkdir", "rmdir", "tar", "unzip",
}

// places are the sensitive parts of the filesystem, most specific
// first, and the category a residue report files them under.
var places = []struct {
	glob, category string
}{
	{"/var/log/**", "log"},
	{"/etc/sudoers", "sudoers"}, {"/etc/sudoers.d/**", "sudoers"},
	{"/etc/passwd", "account"}, {"/etc/shadow", "account"}, {"/etc/group", "account"}, {"/etc/gshadow", "account"},
	{"/etc/systemd/**", "unit"}, {"/run/systemd/system/**", "unit"}, {"/lib/systemd/system/**", "unit"},
	{"/usr/lib/systemd/system/**", "unit"}, {"/usr/local/lib/systemd/**", "unit"}, {"/etc/init.d/**", "unit"}, {"/etc/rc.local", "unit"},
	{"/etc/crontab", "cron"}, {"/etc/anacrontab", "cron"}, {"/etc/cron.*/**", "cron"}, {"/var/spool/cron/**", "cron"},
	{"/**/.ssh/**", "ssh_key"}, {"/etc/ssh/**", "ssh_key"},
	{"/etc/modules", "kernel_module"}, {"/etc/modules-load.d/**", "kernel_module"}, {"/etc/modprobe.d/**", "kernel_module"},
	{"/lib/modules/**", "kernel_module"}, {"/usr/lib/modules/**", "kernel_module"},
	{"/etc/ld.so.preload", "ld_preload"},
	{"/etc/pam.d/**", "pam"}, {"/etc/security/**", "pam"},
	{"/etc/pam-agent/**", "agent"}, {"/var/lib/pam-agent/**", "agent"}, {"/sys/fs/bpf/**", "agent"},
	{"/etc/audit/**", "audit"},
	{"/usr/local/bin/**", "binary"}, {"/usr/local/sbin/**", "binary"}, {"/usr/bin/**", "binary"}, {"/usr/sbin/**", "binary"},
	{"/bin/**", "binary"}, {"/sbin/**", "binary"},
	{"/boot/**", "boot"},
	{"/root/**", "root_home"},
	{"/etc/**", "config"},
}

// Mention is a sensitive path a writing command named.
type Mention struct {
	Path, Category string
}

// Mentions lists the sensitive paths e names if e is a writer.
func Mentions(e Exec) []Mention {
	c := commandOf(e)
	writer := false
	for _, w := range Writers {
		if contains(c.names, w) {
			writer = true
			break
		}
	}
	if !writer {
		return nil
	}
	var out []Mention
	for _, p := range c.paths {
		for _, pl := range places {
			if globMatch(pl.glob, p) {
				out = append(out, Mention{Path: p, Category: pl.category})
				break
			}
		}
	}
	return out
}
