/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Structs and constants shared by the ZPAM programs and, through bpf2go
 * -type, by the Go agent. Never re-declare these by hand in Go. */
#ifndef ZPAM_H
#define ZPAM_H

#define ZPAM_GRANT_ID_LEN 40
#define ZPAM_COMM_LEN 16
#define ZPAM_TTY_LEN 32
#define ZPAM_PATH_LEN 256

/* Telemetry bounds. ZPAM_ARGV_CAP and ZPAM_CWD_CAP are powers of two: the
 * programs mask offsets with them so the verifier can prove every write
 * stays inside the per-CPU scratch buffer. */
#define ZPAM_ARGV_CAP 8192
#define ZPAM_CWD_CAP 1024
#define ZPAM_CWD_DEPTH 32
#define ZPAM_NAME_CAP 256
#define ZPAM_EXEC_DATA (2 * ZPAM_ARGV_CAP)

/* AUDIT_SID_UNSET: a task without an audit session, and the session id of a
 * user-scoped grant entry. */
#define ZPAM_ANY_SESSION 0xffffffffU

enum zpam_mode {
	ZPAM_MODE_LSM = 1,
	ZPAM_MODE_SIGNAL = 2,
	ZPAM_MODE_AUDIT = 3,
};

enum zpam_event_kind {
	ZPAM_EVENT_ESCALATION_DENIED = 1,
	ZPAM_EVENT_ESCALATION_ALLOWED = 2,
	/* An exec (or setuid-family call) that would run a program with euid 0
	 * in the tree of a scoped grant, and that program is not one of the
	 * grant's commands. grant_id names the grant. */
	ZPAM_EVENT_SCOPE_DENIED = 3,
};

enum zpam_counter {
	ZPAM_COUNTER_EXECS = 0,   /* every exec the hook saw: proves it fires */
	ZPAM_COUNTER_DENIED = 1,
	ZPAM_COUNTER_ALLOWED = 2,
	ZPAM_COUNTER_RINGBUF_DROPS = 3,
	ZPAM_COUNTER_MAX = 4,
};

/* How an escalation was attempted. */
enum zpam_via {
	ZPAM_VIA_EXEC = 1,   /* exec of a setuid-root binary */
	ZPAM_VIA_SETUID = 2, /* setuid-family call that moved euid to 0 */
};

/* Record numbers. A ring's records are numbered per CPU, 1, 2, …,
 * ZPAM_SEQ_MOD, then 1 again, in the order they enter the ring (the
 * programs run with preemption off, so one CPU's records cannot
 * interleave); a record that finds the ring full takes no number, it is
 * counted as a drop. 0 means unnumbered: a record of the programs of an
 * earlier agent, which pinned no counter. The agent writes the number of
 * the last record it stored, per CPU, into a pinned array of its own:
 * the ring's reader takes a record out of the ring before the agent has
 * stored it, and a reader that finds a later number than the one after
 * the last stored counts the records in between as lost in flight. The
 * sixteen bits need only span what one reader holds unstored. */
#define ZPAM_SEQ_MOD 65535

/* zpam_seq_after is the number of the record after last on this CPU. */
static __always_inline __u16 zpam_seq_after(__u32 last)
{
	return last % ZPAM_SEQ_MOD + 1;
}

/* Ids of a task when it entered a setuid-family syscall (signal mode). */
struct setuid_entry {
	__u32 uid;
	__u32 euid;
};

struct grant_key {
	__u32 uid;
	__u32 session;
};

struct grant_value {
	/* CLOCK_BOOTTIME nanoseconds: immune to wall-clock changes and keeps
	 * counting while the machine is suspended. */
	__u64 deadline_ns;
	char id[ZPAM_GRANT_ID_LEN];
};

/* File identity of an allowlisted helper: the kernel's s_dev encoding
 * (major << 20 | minor) and the inode number. */
struct file_id {
	__u64 dev;
	__u64 ino;
};

/* Bits of settings.active: what the hooks must look at beyond the common
 * path. Each is set only while there is something to find, so an exec or
 * fork on a host without scoped or terminating grants pays nothing more. */
enum zpam_active {
	/* Some grant is scoped (zpam_grant_state has ZPAM_GRANT_SCOPED). */
	ZPAM_ACTIVE_SCOPED = 1,
	/* Some grant's tree is being terminated (ZPAM_GRANT_TERMINATING). */
	ZPAM_ACTIVE_TERMINATING = 2,
	/* The telemetry exit program is attached and drops tags itself, after
	 * reading them for the exit record; the enforcement one leaves them. */
	ZPAM_ACTIVE_TELEMETRY_UNTAGS = 4,
};

struct settings {
	__u32 mode;
	/* enum zpam_active bits. The field was padding before, so a map pinned
	 * by an older agent has the same layout. */
	__u32 active;
	/* Capabilities whose gain by a non-root exec is an escalation, as a
	 * bit mask of CAP_* numbers (file-capability binaries). */
	__u64 cap_mask;
};

struct event {
	__u64 boot_ns;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 euid;
	__u32 loginuid;
	__u32 session;
	__u8 kind;
	__u8 via;
	/* cpu and seq number the record (see ZPAM_SEQ_MOD). */
	__u16 cpu;
	__u16 seq;
	__u8 _pad[2];
	char comm[ZPAM_COMM_LEN];
	char tty[ZPAM_TTY_LEN];
	char grant_id[ZPAM_GRANT_ID_LEN];
	char filename[ZPAM_PATH_LEN];
};

/* What the kernel holds about a grant beyond its entry in zpam_grants,
 * keyed by grant id. It outlives the grant: a tree elevated under a scoped
 * grant stays scoped after the grant ends, and the agent removes the state
 * only once no process of the tree is left. */
enum zpam_grant_flag {
	/* Only the grant's commands (zpam_scope) and the launchers
	 * (zpam_launchers) may run with euid 0 in its tree. */
	ZPAM_GRANT_SCOPED = 1,
	/* Revoked with terminate: a process of its tree that forks or execs
	 * is killed, so the tree cannot outgrow the agent's sweep. */
	ZPAM_GRANT_TERMINATING = 2,
};

struct grant_ref {
	char id[ZPAM_GRANT_ID_LEN];
};

struct grant_state {
	__u32 flags;
	__u32 _pad;
};

/* One command of a scoped grant, by file identity. */
struct scope_key {
	char grant_id[ZPAM_GRANT_ID_LEN];
	struct file_id file;
};

/* Telemetry: what a process record reports. */
enum zpam_proc_kind {
	ZPAM_PROC_EXEC = 1,
	ZPAM_PROC_EXIT = 2,
};

enum zpam_proc_flag {
	ZPAM_PROC_ARGV_TRUNCATED = 1,
	ZPAM_PROC_CWD_TRUNCATED = 2,
	ZPAM_PROC_FILENAME_TRUNCATED = 4,
};

enum zpam_tcounter {
	ZPAM_TCOUNTER_EXECS = 0,
	ZPAM_TCOUNTER_EXITS = 1,
	ZPAM_TCOUNTER_RINGBUF_DROPS = 2,
	ZPAM_TCOUNTER_FORKS_TAGGED = 3, /* no longer counted: forks are tagged by enforcement */
	ZPAM_TCOUNTER_MAX = 4,
};

/* Attribution: the grant a process tree was elevated under, keyed by tgid.
 * start_ns is the process's start (task->start_boottime): a tag whose
 * start differs from the live process's belongs to an earlier process
 * with the same pid and is ignored. */
struct attrib {
	__u64 start_ns;
	char grant_id[ZPAM_GRANT_ID_LEN];
};

struct tele_settings {
	/* Bytes of argv to record, at most ZPAM_ARGV_CAP. */
	__u32 argv_max;
	__u32 _pad;
};

/* proc_header opens every telemetry record. An exec record continues with
 * filename_len + cwd_len + argv_len bytes of data (argv NUL-separated);
 * an exit record is the header alone. */
struct proc_header {
	__u64 boot_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 euid;
	__u32 loginuid;
	__u32 session;
	/* exit: the kernel's exit_code (status << 8 | signal) */
	__s32 exit_code;
	__u16 filename_len;
	__u16 cwd_len;
	__u16 argv_len;
	__u8 kind;
	__u8 flags;
	/* cpu and seq number the record (see ZPAM_SEQ_MOD). */
	__u16 cpu;
	__u16 seq;
	char comm[ZPAM_COMM_LEN];
	char tty[ZPAM_TTY_LEN];
	char grant_id[ZPAM_GRANT_ID_LEN];
};

struct exec_event {
	struct proc_header h;
	char data[ZPAM_EXEC_DATA];
};

#endif
