/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Structs and constants shared by the ZPAM programs and, through bpf2go
 * -type, by the Go agent. Never re-declare these by hand in Go. */
#ifndef ZPAM_H
#define ZPAM_H

#define ZPAM_GRANT_ID_LEN 40
#define ZPAM_COMM_LEN 16
#define ZPAM_TTY_LEN 32
#define ZPAM_PATH_LEN 256

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

struct settings {
	__u32 mode;
	__u32 _pad;
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
	__u8 _pad[6];
	char comm[ZPAM_COMM_LEN];
	char tty[ZPAM_TTY_LEN];
	char grant_id[ZPAM_GRANT_ID_LEN];
	char filename[ZPAM_PATH_LEN];
};

#endif
