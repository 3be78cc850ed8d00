// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Escalation enforcement: an exec that leaves a task with a non-root real uid
 * and effective uid 0 is an escalation; without a live grant for (uid,
 * session) or (uid, any session) it is denied. The same decision runs from a
 * BPF LSM hook (deny with -EPERM) or from the sched_process_exec tracepoint
 * (SIGKILL before the new image runs a single user-space instruction). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "zpam.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EPERM 1
#define SIGKILL 9

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct grant_key);
	__type(value, struct grant_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_grants SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct file_id);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_allowlist SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_events SEC(".maps");

/* Keep the shared types in the BTF so bpf2go -type can emit them. */
const struct event *unused_event __attribute__((unused));
const enum zpam_mode *unused_mode __attribute__((unused));
const enum zpam_event_kind *unused_kind __attribute__((unused));
const enum zpam_counter *unused_counter __attribute__((unused));

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&zpam_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline __u32 current_mode(void)
{
	__u32 zero = 0;
	struct settings *s = bpf_map_lookup_elem(&zpam_settings, &zero);
	/* No settings yet means the agent is still starting: observe only. */
	return s ? s->mode : ZPAM_MODE_AUDIT;
}

static __always_inline struct grant_value *live_grant(__u32 uid, __u32 session)
{
	struct grant_key key = { .uid = uid, .session = session };
	struct grant_value *g = bpf_map_lookup_elem(&zpam_grants, &key);
	__u64 now = bpf_ktime_get_boot_ns();

	if (g && now < g->deadline_ns)
		return g;
	key.session = ZPAM_ANY_SESSION;
	g = bpf_map_lookup_elem(&zpam_grants, &key);
	if (g && now < g->deadline_ns)
		return g;
	return NULL;
}

static __always_inline int allowlisted(struct file *file)
{
	struct file_id id = {};

	id.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	id.ino = BPF_CORE_READ(file, f_inode, i_ino);
	return bpf_map_lookup_elem(&zpam_allowlist, &id) != NULL;
}

static __always_inline void emit(struct task_struct *task, struct linux_binprm *bprm,
				 const struct cred *cred, __u8 kind, struct grant_value *g)
{
	struct event *e = bpf_ringbuf_reserve(&zpam_events, sizeof(*e), 0);
	struct tty_struct *tty;

	if (!e) {
		count(ZPAM_COUNTER_RINGBUF_DROPS);
		return;
	}
	e->boot_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = BPF_CORE_READ(cred, uid.val);
	e->euid = BPF_CORE_READ(cred, euid.val);
	e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->session = BPF_CORE_READ(task, sessionid);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	tty = BPF_CORE_READ(task, signal, tty);
	e->tty[0] = 0;
	if (tty)
		bpf_probe_read_kernel_str(e->tty, sizeof(e->tty), tty->name);
	e->grant_id[0] = 0;
	if (g)
		bpf_probe_read_kernel_str(e->grant_id, sizeof(e->grant_id), g->id);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(e, 0);
}

/* decide returns 1 when the exec must be denied, after recording it. */
static __always_inline int decide(struct task_struct *task, struct linux_binprm *bprm,
				  const struct cred *cred)
{
	__u32 uid = BPF_CORE_READ(cred, uid.val);
	__u32 euid = BPF_CORE_READ(cred, euid.val);
	struct grant_value *g;

	count(ZPAM_COUNTER_EXECS);
	/* kuids are init-namespace ids, so root inside an unprivileged user
	 * namespace is not euid 0 here and root itself is never gated. */
	if (uid == 0 || euid != 0)
		return 0;
	if (allowlisted(BPF_CORE_READ(bprm, file)))
		return 0;
	g = live_grant(uid, BPF_CORE_READ(task, sessionid));
	if (g) {
		count(ZPAM_COUNTER_ALLOWED);
		emit(task, bprm, cred, ZPAM_EVENT_ESCALATION_ALLOWED, g);
		return 0;
	}
	count(ZPAM_COUNTER_DENIED);
	emit(task, bprm, cred, ZPAM_EVENT_ESCALATION_DENIED, NULL);
	return current_mode() != ZPAM_MODE_AUDIT;
}

/* Signal mode: creds are committed, the new image has not run yet; a pending
 * SIGKILL is delivered on the way back to user space. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(zpam_exec_signal, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (decide(p, bprm, p->cred) && current_mode() == ZPAM_MODE_SIGNAL)
		bpf_send_signal(SIGKILL);
	return 0;
}

/* LSM mode: the capability LSM runs first and has already computed the new
 * creds in bprm->cred; returning -EPERM fails the execve. */
SEC("lsm/bprm_creds_from_file")
int BPF_PROG(zpam_exec_lsm, struct linux_binprm *bprm, struct file *file, int ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();

	if (ret)
		return ret;
	if (decide(task, bprm, bprm->cred) && current_mode() == ZPAM_MODE_LSM)
		return -EPERM;
	return 0;
}
