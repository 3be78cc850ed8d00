// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Process telemetry: one record per exec and per process exit, each with
 * the grant its process tree was elevated under. The tree's tag is kept by
 * the enforcement programs (inherited on fork); the exit program here drops
 * it, after reading it for the exit record. Records go to their own ring
 * buffer, so a flood of execs can never crowd out the escalation events
 * of enforce.bpf.c; a record that finds the ring full is counted.
 *
 * Every exec pays for these programs, so they stay cheap: no wake-up per
 * record (the agent drains on a timer), one copy of argv straight from the
 * new image's stack, and a bounded walk of the cwd's dentries. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "zpam.h"
#include "grants.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The size is set by the agent at load; this is the default. */
#define ZPAM_TELEMETRY_RINGBUF_SIZE (4 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ZPAM_TELEMETRY_RINGBUF_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_telemetry SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ZPAM_TCOUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_tele_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tele_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_tele_settings SEC(".maps");

/* Per CPU, the number of the last record written to the ring. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_tele_seq SEC(".maps");

/* Per CPU, the number of the last record the agent stored, and after the
 * CPUs the records it counted lost in flight. Only the agent uses it, by
 * mmap: pinned with the ring, it outlives an agent killed mid-record.
 * The agent sizes it to the possible CPUs + 1. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_tele_handed SEC(".maps");

/* An exec record is assembled here: too big for the BPF stack. */
struct exec_scratch {
	struct exec_event ev;
	char cwd[2 * ZPAM_CWD_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} zpam_exec_scratch SEC(".maps");

const struct exec_event *unused_exec_event __attribute__((unused));
const struct tele_settings *unused_tele_settings __attribute__((unused));
const enum zpam_proc_kind *unused_proc_kind __attribute__((unused));
const enum zpam_proc_flag *unused_proc_flag __attribute__((unused));
const enum zpam_tcounter *unused_tcounter __attribute__((unused));

static __always_inline void tcount(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&zpam_tele_counters, &idx);
	if (v)
		*v += 1;
}

/* The agent drains on a short timer; a wake-up per record would cost every
 * exec an irq_work self-IPI. Wake it only when the ring is filling. */
static __always_inline __u64 wakeup_flags(void)
{
	if (bpf_ringbuf_query(&zpam_telemetry, BPF_RB_AVAIL_DATA) > ZPAM_TELEMETRY_RINGBUF_SIZE / 4)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* next_seq numbers a record of this CPU; commit_seq makes the number
 * taken once the record is in the ring. */
static __always_inline __u32 *seq_slot(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&zpam_tele_seq, &zero);
}

static __always_inline void next_seq(struct proc_header *h, __u32 *slot)
{
	h->cpu = bpf_get_smp_processor_id();
	h->seq = slot ? zpam_seq_after(*slot) : 0;
}

static __always_inline void commit_seq(struct proc_header *h, __u32 *slot)
{
	if (slot)
		*slot = h->seq;
}

static __always_inline void fill_header(struct proc_header *h, struct task_struct *task, __u8 kind)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	struct attrib *a = attrib_of(task);

	h->boot_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->kind = kind;
	h->flags = 0;
	h->pid = BPF_CORE_READ(task, tgid);
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = BPF_CORE_READ(task, cred, uid.val);
	h->euid = BPF_CORE_READ(task, cred, euid.val);
	h->loginuid = BPF_CORE_READ(task, loginuid.val);
	h->session = BPF_CORE_READ(task, sessionid);
	h->exit_code = 0;
	h->filename_len = h->cwd_len = h->argv_len = 0;
	BPF_CORE_READ_STR_INTO(&h->comm, task, comm);
	h->tty[0] = 0;
	if (tty)
		bpf_probe_read_kernel_str(h->tty, sizeof(h->tty), tty->name);
	h->grant_id[0] = 0;
	if (a)
		__builtin_memcpy(h->grant_id, a->grant_id, sizeof(h->grant_id));
}

/* cwd_walk writes task's working directory backwards into the scratch
 * buffer, ending at cwd[ZPAM_CWD_CAP], and returns where it starts. Mount
 * points are crossed to the mount's parent; a path deeper than
 * ZPAM_CWD_DEPTH steps or longer than ZPAM_CWD_CAP keeps its last
 * components and sets cut. bpf_loop has the verifier check one step, not
 * every combination of ZPAM_CWD_DEPTH of them. */
struct cwd_walk {
	struct dentry *d;
	struct mount *mnt;
	__u32 pos;
	int cut;
	int done;
};

static long cwd_step(__u32 i, void *data)
{
	struct cwd_walk *w = data;
	struct dentry *d = w->d;
	struct mount *mnt = w->mnt;
	__u32 zero = 0, len, pos;
	struct exec_scratch *s = bpf_map_lookup_elem(&zpam_exec_scratch, &zero);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);

	if (!s)
		return 1;
	if (d == BPF_CORE_READ(mnt, mnt.mnt_root)) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt)
			goto done;
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	if (d == parent)
		goto done;
	len = BPF_CORE_READ(d, d_name.len);
	pos = w->pos;
	if (len >= ZPAM_NAME_CAP || len + 1 > pos) {
		w->cut = 1;
		goto done;
	}
	pos -= len;
	bpf_probe_read_kernel(&s->cwd[pos & (ZPAM_CWD_CAP - 1)], len & (ZPAM_NAME_CAP - 1), BPF_CORE_READ(d, d_name.name));
	pos -= 1;
	s->cwd[pos & (ZPAM_CWD_CAP - 1)] = '/';
	w->pos = pos;
	w->d = parent;
	return 0;
done:
	w->done = 1;
	return 1;
}

static __always_inline __u32 cwd_walk(struct task_struct *task, char *buf, int *cut)
{
	struct path pwd = BPF_CORE_READ(task, fs, pwd);
	struct cwd_walk w = {
		.d = pwd.dentry,
		.mnt = container_of(pwd.mnt, struct mount, mnt),
		.pos = ZPAM_CWD_CAP,
	};

	bpf_loop(ZPAM_CWD_DEPTH, cwd_step, &w, 0);
	*cut = w.cut || !w.done;
	if (w.pos >= ZPAM_CWD_CAP) {
		buf[(ZPAM_CWD_CAP - 1) & (ZPAM_CWD_CAP - 1)] = '/';
		return ZPAM_CWD_CAP - 1;
	}
	return w.pos;
}

/* argv_copy copies up to the configured number of argv bytes from the new
 * image's stack, where execve has just put them. */
static __always_inline __u32 argv_copy(struct task_struct *task, char *dst, __u8 *flags)
{
	__u32 zero = 0;
	struct tele_settings *s = bpf_map_lookup_elem(&zpam_tele_settings, &zero);
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u32 max = s ? s->argv_max : 1024;
	__u64 len = end - start;

	if (end <= start)
		return 0;
	if (max > ZPAM_ARGV_CAP - 1)
		max = ZPAM_ARGV_CAP - 1;
	if (len > max) {
		len = max;
		*flags |= ZPAM_PROC_ARGV_TRUNCATED;
	}
	len &= ZPAM_ARGV_CAP - 1;
	if (bpf_probe_read_user(dst, len, (void *)start))
		return 0;
	return len;
}

/* A task that became euid 0 under a live grant without a tag: the
 * enforcement program tags when it allows an escalation, but an older
 * pinned one does not, and on the same tracepoint it may run after us. */
static __always_inline void tag_if_escalated(struct task_struct *task, struct linux_binprm *bprm, struct proc_header *h)
{
	struct grant_value *g;

	if (h->grant_id[0] || h->uid == 0 || h->euid != 0)
		return;
	if (allowlisted(BPF_CORE_READ(bprm, file)))
		return;
	g = live_grant(h->uid, h->session);
	if (!g)
		return;
	tag_grant(task, g);
	__builtin_memcpy(h->grant_id, g->id, sizeof(h->grant_id));
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(zpam_tele_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	struct exec_scratch *s = bpf_map_lookup_elem(&zpam_exec_scratch, &zero);
	struct exec_event *e;
	__u32 off, n, cwd_start;
	int cut = 0;

	tcount(ZPAM_TCOUNTER_EXECS);
	if (!s)
		return 0;
	e = &s->ev;
	fill_header(&e->h, p, ZPAM_PROC_EXEC);
	tag_if_escalated(p, bprm, &e->h);

	long r = bpf_probe_read_kernel_str(e->data, ZPAM_NAME_CAP, BPF_CORE_READ(bprm, filename));
	off = r > 1 ? r - 1 : 0;
	if (off == ZPAM_NAME_CAP - 1)
		e->h.flags |= ZPAM_PROC_FILENAME_TRUNCATED;
	e->h.filename_len = off;

	cwd_start = cwd_walk(p, s->cwd, &cut);
	if (cut)
		e->h.flags |= ZPAM_PROC_CWD_TRUNCATED;
	n = (ZPAM_CWD_CAP - cwd_start) & (ZPAM_CWD_CAP - 1);
	off &= ZPAM_NAME_CAP - 1;
	bpf_probe_read_kernel(&e->data[off], n, &s->cwd[cwd_start & (ZPAM_CWD_CAP - 1)]);
	e->h.cwd_len = n;
	off += n;

	off &= ZPAM_ARGV_CAP - 1;
	n = argv_copy(p, &e->data[off], &e->h.flags);
	e->h.argv_len = n;
	off += n;

	__u64 size = sizeof(e->h) + (off & (ZPAM_EXEC_DATA - 1));
	if (size > sizeof(*e))
		return 0;
	__u32 *slot = seq_slot();
	next_seq(&e->h, slot);
	if (bpf_ringbuf_output(&zpam_telemetry, e, size, wakeup_flags()))
		tcount(ZPAM_TCOUNTER_RINGBUF_DROPS);
	else
		commit_seq(&e->h, slot);
	return 0;
}

/* sched_process_exit runs for every thread; the process has ended when
 * its last thread does (signal->live already dropped to 0). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(zpam_tele_exit, struct task_struct *p)
{
	struct proc_header *h;
	__u32 tgid;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	tcount(ZPAM_TCOUNTER_EXITS);
	h = bpf_ringbuf_reserve(&zpam_telemetry, sizeof(*h), 0);
	if (h) {
		__u32 *slot = seq_slot();
		fill_header(h, p, ZPAM_PROC_EXIT);
		h->exit_code = BPF_CORE_READ(p, exit_code);
		next_seq(h, slot);
		commit_seq(h, slot);
		bpf_ringbuf_submit(h, wakeup_flags());
	} else {
		tcount(ZPAM_TCOUNTER_RINGBUF_DROPS);
	}
	tgid = BPF_CORE_READ(p, tgid);
	bpf_map_delete_elem(&zpam_attrib, &tgid);
	return 0;
}
