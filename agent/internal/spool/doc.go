// Package spool is the agent's durable, size-bounded telemetry queue: what
// the host observed waits here until the control plane has acknowledged
// storing it.
//
// # Layout
//
// Under the state directory, spool/ holds two queues, priv/ (escalation,
// login, grant and residue events) and bulk/ (everything else: exec, exit, agent
// health, recordings). Each queue is a numbered series of append-only
// segment files, 0000000000000001.seg, …, and a head file naming the first
// record not yet acknowledged. A record is a little-endian uint32 length, a
// CRC-32C of the payload, and the payload: the protobuf Event.
//
// # Why segment files and not bbolt
//
// The spool is a FIFO: append at the tail, delete at the head, and drop
// whole runs of the oldest non-privileged events when full. An append-only
// log does each in O(1) (write, advance a cursor, unlink a file), and a
// record is in the kernel's page cache the moment write(2) returns, which
// is what makes Publish safe against SIGKILL without an fsync per event.
// A bbolt transaction costs a B+tree copy-on-write and two fdatasyncs to
// be crash-safe, so a producer at thousands of execs per second would have
// to wait for group commits or buffer in memory, where a SIGKILL loses the
// buffer; and a bbolt file never shrinks, so the disk bound would be a
// high-water mark rather than a bound. Torn tails are the only corruption
// an append-only file can suffer, and the CRC finds them.
//
// # Durability (the fsync policy)
//
//   - Publish returns after write(2) of the record: it survives a SIGKILL or
//     a crash of the agent at any instant.
//   - Segments are fdatasync'd every Options.SyncInterval (200 ms by
//     default), when a segment is sealed, and on Close; the directory is
//     fsync'd after files are created or removed. A power loss or kernel
//     crash loses at most the records of the last interval.
//   - The head moves only on an acknowledgement from the control plane, and
//     is written (temporary file, rename) before the segments behind it are
//     deleted, so a crash at any point can only make the agent resend
//     acknowledged events, which the control plane stores once by id.
//   - On Open the tail of each queue is checked record by record and cut at
//     the first torn or corrupt record; such a cut counts as a drop
//     (cause "spool_torn").
//
// # When full
//
// Options.MaxBytes bounds the segment files on disk. An append that would
// pass it first drops the oldest bulk segment (exec, exit, agent, …),
// counted per kind as "spool_full"; only when no bulk event is left are
// the oldest privileged events dropped, and a new bulk event arriving then
// is dropped itself rather than displace a privileged one. Records removed
// while an upload of them was in flight count as dropped too: the spool
// cannot know whether they landed.
//
// Event ids are UUIDv7, assigned at append time: unique per host (and
// fleet), stable across resends, and time-ordered, which keeps the
// control plane's unique index appending at its right edge.
package spool
