// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Escalation enforcement: an exec that leaves a task with a non-root real uid
 * and effective uid 0 is an escalation; without a live grant for (uid,
 * session) or (uid, any session) it is denied. The same decision runs from a
 * BPF LSM hook (deny with -EPERM) or from the sched_process_exec tracepoint
 * (SIGKILL before the new image runs a single user-space instruction).
 *
 * An allowed escalation tags its process with the grant, and the fork and
 * exit programs here keep the tag on the whole tree, in every mode and
 * whether telemetry runs or not, because two decisions depend on it:
 *
 *  - Scoped grants: in the tree of a grant that lists commands, a program
 *    may run with euid 0 only when its file identity is one of them or one
 *    of the launchers (sudo, pkexec, doas) that run such a command. The
 *    escalating exec is judged that way, and so is every later exec that
 *    runs as root in the tree (sudo's exec of the command, and whatever
 *    that command or a root shell would exec).
 *  - Termination: while the agent ends the tree of a grant revoked with
 *    terminate, a process of that tree that forks or execs is killed, so
 *    the tree cannot grow faster than the agent's sweep (a fork bomb
 *    under sudo cannot escape it).
 *
 * Both look past the common path only while settings.active says there is
 * something to find. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "zpam.h"
#include "grants.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EPERM 1
#define SIGKILL 9

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ZPAM_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_counters SEC(".maps");

#define ZPAM_RINGBUF_SIZE (1 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ZPAM_RINGBUF_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_events SEC(".maps");

/* Per CPU, the number of the last event written to the ring (see
 * ZPAM_SEQ_MOD in zpam.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_events_seq SEC(".maps");

/* Per CPU, the number of the last event the agent stored, and after the
 * CPUs the events it counted lost in flight; the agent's alone (mmap),
 * sized by it to the possible CPUs + 1. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_events_handed SEC(".maps");

/* Signal mode: a task's ids at entry to a setuid-family syscall, so the
 * exit can tell gaining euid 0 from keeping it. Keyed by pid_tgid. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct setuid_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_setuid_entry SEC(".maps");

/* What the kernel knows of a grant beyond its zpam_grants entry
 * (scoped, terminating); see struct grant_state. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct grant_ref);
	__type(value, struct grant_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_grant_state SEC(".maps");

/* The commands of scoped grants, by grant id and file identity. A grant
 * has at most 32 (the control plane's bound). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct scope_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_scope SEC(".maps");

/* Programs that only run the command they are given (sudo, pkexec, doas):
 * allowed to start with euid 0 in a scoped tree, as the way to a command
 * of the grant, whose own exec is then judged. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct file_id);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_launchers SEC(".maps");

/* Keep the shared types in the BTF so bpf2go -type can emit them. */
const struct event *unused_event __attribute__((unused));
const enum zpam_mode *unused_mode __attribute__((unused));
const enum zpam_event_kind *unused_kind __attribute__((unused));
const enum zpam_counter *unused_counter __attribute__((unused));
const enum zpam_via *unused_via __attribute__((unused));
const enum zpam_active *unused_active __attribute__((unused));
const enum zpam_grant_flag *unused_grant_flag __attribute__((unused));

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&zpam_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct settings *settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&zpam_settings, &zero);
}

/* No settings yet means the agent is still starting: observe only. */
static __always_inline __u32 mode_of(struct settings *s)
{
	return s ? s->mode : ZPAM_MODE_AUDIT;
}

static __always_inline __u32 current_mode(void)
{
	return mode_of(settings());
}

static __always_inline __u32 active(struct settings *s, __u32 bits)
{
	return s ? s->active & bits : 0;
}

/* kernel_cap_t was two 32-bit words before Linux 6.3; CO-RE picks the
 * layout of the running kernel. */
struct kernel_cap_struct___pre63 {
	__u32 cap[2];
} __attribute__((preserve_access_index));

struct cred___pre63 {
	struct kernel_cap_struct___pre63 cap_effective;
} __attribute__((preserve_access_index));

static __always_inline __u64 effective_caps(const struct cred *cred)
{
	if (bpf_core_field_exists(((kernel_cap_t *)0)->val))
		return BPF_CORE_READ(cred, cap_effective.val);
	struct cred___pre63 *old = (void *)cred;
	return (__u64)BPF_CORE_READ(old, cap_effective.cap[1]) << 32 |
	       BPF_CORE_READ(old, cap_effective.cap[0]);
}

/* gained_privileged_caps: this exec raised the task's privilege (the
 * kernel's own secureexec verdict, so ambient capabilities of a service do
 * not count) and left it holding a capability the agent treats as root. */
static __always_inline int gained_privileged_caps(struct settings *s, struct linux_binprm *bprm, const struct cred *cred)
{
	if (!s || !s->cap_mask)
		return 0;
	if (!BPF_CORE_READ_BITFIELD_PROBED(bprm, secureexec))
		return 0;
	return (effective_caps(cred) & s->cap_mask) != 0;
}

/* submit_flags: a denial wakes the agent at once (the user is told on the
 * terminal). An allowed escalation is not urgent, and a wake-up is an
 * irq_work self-IPI, costly in VMs: skip it unless the buffer is filling;
 * the agent drains on a short timer. */
static __always_inline __u64 submit_flags(__u8 kind)
{
	if (kind == ZPAM_EVENT_ESCALATION_DENIED)
		return 0;
	if (bpf_ringbuf_query(&zpam_events, BPF_RB_AVAIL_DATA) > ZPAM_RINGBUF_SIZE / 2)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void emit(struct task_struct *task, const char *filename, __u8 via,
				 __u32 uid, __u32 euid, __u8 kind, const char *grant_id)
{
	struct event *e = bpf_ringbuf_reserve(&zpam_events, sizeof(*e), 0);
	struct tty_struct *tty;
	__u32 zero = 0, *seq;

	if (!e) {
		count(ZPAM_COUNTER_RINGBUF_DROPS);
		return;
	}
	seq = bpf_map_lookup_elem(&zpam_events_seq, &zero);
	e->cpu = bpf_get_smp_processor_id();
	e->seq = 0;
	if (seq) {
		e->seq = zpam_seq_after(*seq);
		*seq = e->seq;
	}
	e->boot_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	e->via = via;
	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = uid;
	e->euid = euid;
	e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->session = BPF_CORE_READ(task, sessionid);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	tty = BPF_CORE_READ(task, signal, tty);
	e->tty[0] = 0;
	if (tty)
		bpf_probe_read_kernel_str(e->tty, sizeof(e->tty), tty->name);
	e->grant_id[0] = 0;
	if (grant_id)
		bpf_probe_read_kernel_str(e->grant_id, sizeof(e->grant_id), grant_id);
	e->filename[0] = 0;
	if (filename)
		bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
	bpf_ringbuf_submit(e, submit_flags(kind));
}

static __always_inline struct grant_state *grant_state(const char *grant_id)
{
	return bpf_map_lookup_elem(&zpam_grant_state, grant_id);
}

/* in_scope: file may run with euid 0 in the tree of scoped grant grant_id. */
static __always_inline int in_scope(const char *grant_id, struct file *file)
{
	struct scope_key key = {};

	key.file.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	key.file.ino = BPF_CORE_READ(file, f_inode, i_ino);
	if (bpf_map_lookup_elem(&zpam_launchers, &key.file))
		return 1;
	__builtin_memcpy(key.grant_id, grant_id, sizeof(key.grant_id));
	return bpf_map_lookup_elem(&zpam_scope, &key) != NULL;
}

/* out_of_scope: grant_id is scoped and file is none of its commands. */
static __always_inline int out_of_scope(struct settings *s, const char *grant_id, struct file *file)
{
	struct grant_state *st;

	if (!active(s, ZPAM_ACTIVE_SCOPED))
		return 0;
	st = grant_state(grant_id);
	return st && (st->flags & ZPAM_GRANT_SCOPED) && !in_scope(grant_id, file);
}

/* deny_scope records a denial by a grant's scope; it returns 1 when the
 * mode blocks it. */
static __always_inline int deny_scope(struct task_struct *task, struct settings *s, const char *filename,
				      __u8 via, __u32 uid, __u32 euid, const char *grant_id)
{
	count(ZPAM_COUNTER_DENIED);
	emit(task, filename, via, uid, euid, ZPAM_EVENT_SCOPE_DENIED, grant_id);
	return mode_of(s) != ZPAM_MODE_AUDIT;
}

/* judge looks up a grant for an escalation by uid and records the
 * decision; it returns 1 when the escalation must be denied. file is the
 * program that would run with euid 0, for a scoped grant's check. */
static __always_inline int judge(struct task_struct *task, struct settings *s, struct file *file,
				 const char *filename, __u8 via, __u32 uid, __u32 euid)
{
	struct grant_value *g = live_grant(uid, BPF_CORE_READ(task, sessionid));

	if (g && out_of_scope(s, g->id, file))
		return deny_scope(task, s, filename, via, uid, euid, g->id);
	if (g) {
		count(ZPAM_COUNTER_ALLOWED);
		tag_grant(task, g);
		emit(task, filename, via, uid, euid, ZPAM_EVENT_ESCALATION_ALLOWED, g->id);
		return 0;
	}
	count(ZPAM_COUNTER_DENIED);
	emit(task, filename, via, uid, euid, ZPAM_EVENT_ESCALATION_DENIED, NULL);
	return mode_of(s) != ZPAM_MODE_AUDIT;
}

/* Verdicts of decide. */
enum {
	VERDICT_ALLOW = 0,
	VERDICT_DENY = 1,
	/* The process belongs to a tree being terminated: end it. */
	VERDICT_KILL = 2,
};

/* tree_verdict judges an exec by a process of an elevated tree, once the
 * settings say some grant is scoped or terminating. In a scoped tree an
 * exec by root must run a command of the grant; a non-root exec is left
 * to the escalation check, which applies the scope of the grant it uses. */
static __always_inline int tree_verdict(struct task_struct *task, struct settings *s, struct linux_binprm *bprm,
					__u32 uid, __u32 euid)
{
	struct attrib *a = attrib_of(task);
	struct grant_state *st;

	if (!a)
		return VERDICT_ALLOW;
	st = grant_state(a->grant_id);
	if (!st)
		return VERDICT_ALLOW;
	if (st->flags & ZPAM_GRANT_TERMINATING)
		return VERDICT_KILL;
	if (uid != 0 || euid != 0 || !(st->flags & ZPAM_GRANT_SCOPED))
		return VERDICT_ALLOW;
	if (in_scope(a->grant_id, BPF_CORE_READ(bprm, file)))
		return VERDICT_ALLOW;
	if (deny_scope(task, s, BPF_CORE_READ(bprm, filename), ZPAM_VIA_EXEC, uid, euid, a->grant_id))
		return VERDICT_DENY;
	return VERDICT_ALLOW;
}

/* decide returns the verdict on an exec, after recording it. */
static __always_inline int decide(struct task_struct *task, struct linux_binprm *bprm,
				  const struct cred *cred)
{
	__u32 uid = BPF_CORE_READ(cred, uid.val);
	__u32 euid = BPF_CORE_READ(cred, euid.val);
	struct settings *s = settings();

	count(ZPAM_COUNTER_EXECS);
	if (active(s, ZPAM_ACTIVE_SCOPED | ZPAM_ACTIVE_TERMINATING)) {
		int v = tree_verdict(task, s, bprm, uid, euid);
		if (v != VERDICT_ALLOW)
			return v;
	}
	/* kuids are init-namespace ids, so root inside an unprivileged user
	 * namespace is not euid 0 here and root itself is never gated. */
	if (uid == 0)
		return VERDICT_ALLOW;
	if (euid != 0 && !gained_privileged_caps(s, bprm, cred))
		return VERDICT_ALLOW;
	if (allowlisted(BPF_CORE_READ(bprm, file)))
		return VERDICT_ALLOW;
	if (judge(task, s, BPF_CORE_READ(bprm, file), BPF_CORE_READ(bprm, filename), ZPAM_VIA_EXEC, uid, euid))
		return VERDICT_DENY;
	return VERDICT_ALLOW;
}

/* gains_root: a non-root task whose euid was not 0 now has euid 0. A task
 * already at euid 0 (a setuid binary run under a grant) keeps it freely. */
static __always_inline int gains_root(__u32 old_uid, __u32 old_euid, __u32 new_euid)
{
	return old_uid != 0 && old_euid != 0 && new_euid == 0;
}

/* Signal mode: creds are committed, the new image has not run yet; a pending
 * SIGKILL is delivered on the way back to user space. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(zpam_exec_signal, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	int v = decide(p, bprm, p->cred);

	/* A terminating tree ends in every mode: that is a response an admin
	 * asked for, not an escalation check audit mode would only report. */
	if (v == VERDICT_KILL || (v == VERDICT_DENY && current_mode() == ZPAM_MODE_SIGNAL))
		bpf_send_signal(SIGKILL);
	return 0;
}

/* LSM mode: the capability LSM runs first and has already computed the new
 * creds in bprm->cred; returning -EPERM fails the execve. */
SEC("lsm/bprm_creds_from_file")
int BPF_PROG(zpam_exec_lsm, struct linux_binprm *bprm, struct file *file, int ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	int v;

	if (ret)
		return ret;
	v = decide(task, bprm, bprm->cred);
	if (v == VERDICT_KILL)
		bpf_send_signal(SIGKILL);
	if (v == VERDICT_KILL || (v == VERDICT_DENY && current_mode() == ZPAM_MODE_LSM))
		return -EPERM;
	return 0;
}

/* LSM mode, setuid family: old and new creds are both at hand. */
SEC("lsm/task_fix_setuid")
int BPF_PROG(zpam_setuid_lsm, struct cred *new, const struct cred *old, int flags, int ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u32 uid = BPF_CORE_READ(old, uid.val);

	if (ret)
		return ret;
	if (!gains_root(uid, BPF_CORE_READ(old, euid.val), BPF_CORE_READ(new, euid.val)))
		return 0;
	if (judge(task, settings(), BPF_CORE_READ(task, mm, exe_file), NULL, ZPAM_VIA_SETUID, uid, 0) &&
	    current_mode() == ZPAM_MODE_LSM)
		return -EPERM;
	return 0;
}

/* Signal mode, setuid family: remember the ids at entry... */
static __always_inline int setuid_enter(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	struct setuid_entry ent = {
		.uid = BPF_CORE_READ(task, cred, uid.val),
		.euid = BPF_CORE_READ(task, cred, euid.val),
	};

	if (ent.uid != 0 && ent.euid != 0)
		bpf_map_update_elem(&zpam_setuid_entry, &id, &ent, BPF_ANY);
	return 0;
}

/* ...and at exit, with the new creds committed and before the return to
 * user space, a pending SIGKILL stops the task running as root. */
static __always_inline int setuid_exit(long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	struct setuid_entry *ent = bpf_map_lookup_elem(&zpam_setuid_entry, &id);
	__u32 uid, euid;

	if (!ent)
		return 0;
	uid = ent->uid;
	euid = ent->euid;
	bpf_map_delete_elem(&zpam_setuid_entry, &id);
	if (ret != 0 || !gains_root(uid, euid, BPF_CORE_READ(task, cred, euid.val)))
		return 0;
	if (judge(task, settings(), BPF_CORE_READ(task, mm, exe_file), NULL, ZPAM_VIA_SETUID, uid, 0) &&
	    current_mode() == ZPAM_MODE_SIGNAL)
		bpf_send_signal(SIGKILL);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int zpam_enter_setuid(void *ctx) { return setuid_enter(); }

SEC("tracepoint/syscalls/sys_enter_setreuid")
int zpam_enter_setreuid(void *ctx) { return setuid_enter(); }

SEC("tracepoint/syscalls/sys_enter_setresuid")
int zpam_enter_setresuid(void *ctx) { return setuid_enter(); }

SEC("tracepoint/syscalls/sys_exit_setuid")
int zpam_exit_setuid(struct trace_event_raw_sys_exit *ctx) { return setuid_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_setreuid")
int zpam_exit_setreuid(struct trace_event_raw_sys_exit *ctx) { return setuid_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_setresuid")
int zpam_exit_setresuid(struct trace_event_raw_sys_exit *ctx) { return setuid_exit(ctx->ret); }

/* The elevated tree: a new process inherits its parent's tag (a new thread
 * shares its process's). A process of a terminating tree that forks is
 * killed; its child, tagged already, is the agent's sweep's to end, and
 * dies the same way if it forks first, so the tree can only shrink. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(zpam_fork, struct task_struct *parent, struct task_struct *child)
{
	struct attrib *a = attrib_of(parent);
	__u32 tgid = BPF_CORE_READ(child, tgid);
	struct grant_state *st;
	struct attrib c;

	if (!a || BPF_CORE_READ(child, pid) != tgid)
		return 0;
	c.start_ns = BPF_CORE_READ(child, start_boottime);
	__builtin_memcpy(c.grant_id, a->grant_id, sizeof(c.grant_id));
	bpf_map_update_elem(&zpam_attrib, &tgid, &c, BPF_ANY);
	if (!active(settings(), ZPAM_ACTIVE_TERMINATING))
		return 0;
	st = grant_state(a->grant_id);
	if (st && (st->flags & ZPAM_GRANT_TERMINATING))
		bpf_send_signal(SIGKILL);
	return 0;
}

/* A process's tag goes with it. sched_process_exit runs for every thread;
 * the process has ended when its last one does. While the telemetry exit
 * program runs, it drops the tag itself after putting it in the exit
 * record, which it could not do if this program, attached first, had. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(zpam_exit, struct task_struct *p)
{
	__u32 tgid;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (active(settings(), ZPAM_ACTIVE_TELEMETRY_UNTAGS))
		return 0;
	tgid = BPF_CORE_READ(p, tgid);
	if (bpf_map_lookup_elem(&zpam_attrib, &tgid))
		bpf_map_delete_elem(&zpam_attrib, &tgid);
	return 0;
}
