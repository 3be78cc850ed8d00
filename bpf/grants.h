/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps and lookups both program families use: the grants, the allowlist
 * and the attribution of process trees to grants. Each object declares
 * them; the agent loads one instance and hands it to both. */
#ifndef ZPAM_GRANTS_H
#define ZPAM_GRANTS_H

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

/* LRU: the exit hook deletes a process's tag, but while telemetry is off
 * nothing does, and the oldest tags must give way rather than new ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct attrib);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zpam_attrib SEC(".maps");

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

/* /proc reports a process's start in USER_HZ (100 Hz) ticks, so a tag the
 * agent seeds from /proc can only be that precise; compare at that grain. */
#define ZPAM_TICK_NS 10000000ULL

static __always_inline __u64 process_start(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime);
}

/* attrib_of is the grant task's process was elevated under, or NULL. */
static __always_inline struct attrib *attrib_of(struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct attrib *a = bpf_map_lookup_elem(&zpam_attrib, &tgid);

	if (a && a->start_ns / ZPAM_TICK_NS == process_start(task) / ZPAM_TICK_NS)
		return a;
	return NULL;
}

/* tag_grant attributes task's process, and its future children, to g. */
static __always_inline void tag_grant(struct task_struct *task, struct grant_value *g)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct attrib a = { .start_ns = process_start(task) };

	__builtin_memcpy(a.grant_id, g->id, sizeof(a.grant_id));
	bpf_map_update_elem(&zpam_attrib, &tgid, &a, BPF_ANY);
}

#endif
