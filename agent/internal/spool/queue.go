package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// pos is a record boundary: a segment number and a byte offset in it.
type pos struct {
	seg uint64
	off int64
}

func (p pos) less(q pos) bool { return p.seg < q.seg || (p.seg == q.seg && p.off < q.off) }

type segment struct {
	n    uint64
	size int64
}

const (
	segSuffix = ".seg"
	headFile  = "head"
	// readChunk is how much of a segment one read asks for.
	readChunk = 256 << 10
)

// queue is one FIFO of segment files. It is not safe for concurrent use;
// Spool.mu guards it, except sync, which only needs the handles it is
// given.
type queue struct {
	dir      string
	segBytes int64
	segs     []segment // oldest first; the last is appended to
	w        *os.File  // the last segment, open for appending
	head     pos       // first record not acknowledged
	read     pos       // next record to hand out; head ≤ read
	rd       *os.File  // read handle of segment rdSeg
	rdSeg    uint64
	unsynced bool // appended since the last sync
	dirDirty bool // files created or removed since the last sync
}

// openQueue opens or creates the queue in dir and repairs a torn tail. It
// reports whether a torn or corrupt tail was cut off.
func openQueue(dir string, segBytes int64) (*queue, bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create spool dir: %w", err)
	}
	q := &queue{dir: dir, segBytes: segBytes}
	if err := q.load(); err != nil {
		return nil, false, err
	}
	torn, err := q.repairTail()
	if err != nil {
		return nil, false, err
	}
	last := q.last()
	if q.w, err = os.OpenFile(q.path(last.n), os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, false, fmt.Errorf("open spool segment: %w", err)
	}
	q.read = q.head
	return q, torn, q.saveHead()
}

// load lists the segments and reads the head; a missing or unreadable
// head, or one naming a segment that is gone, restarts from the oldest
// segment: resending is safe, skipping is not.
func (q *queue) load() error {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("read spool dir: %w", err)
	}
	for _, e := range entries {
		n, ok := segNumber(e.Name())
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("stat spool segment: %w", err)
		}
		q.segs = append(q.segs, segment{n: n, size: info.Size()})
	}
	slices.SortFunc(q.segs, func(a, b segment) int { return cmpUint(a.n, b.n) })
	head, ok := q.loadHead()
	if len(q.segs) == 0 {
		return q.create(max(head.seg, 1))
	}
	if !ok || head.seg < q.segs[0].n || head.seg > q.last().n {
		head = pos{seg: q.segs[0].n}
	}
	q.head = head
	return q.deleteBehind()
}

func (q *queue) loadHead() (pos, bool) {
	b, err := os.ReadFile(filepath.Join(q.dir, headFile))
	if err != nil {
		return pos{}, false
	}
	var p pos
	if _, err := fmt.Sscanf(string(b), "%d %d\n", &p.seg, &p.off); err != nil || p.off < 0 {
		return pos{}, false
	}
	return p, true
}

// repairTail checks the last segment record by record and truncates it at
// the first record that is incomplete or fails its checksum: the one a
// crash or power loss tore. Sealed segments were synced before the next
// one was created, so only the last can be torn.
func (q *queue) repairTail() (bool, error) {
	last := q.last()
	data, err := os.ReadFile(q.path(last.n))
	if err != nil {
		return false, fmt.Errorf("read spool segment: %w", err)
	}
	valid := int64(0)
	for rest := data; len(rest) > 0; {
		_, n, err := unframe(rest)
		if err != nil {
			break
		}
		valid += int64(n)
		rest = rest[n:]
	}
	if valid == int64(len(data)) {
		return false, nil
	}
	if err := os.Truncate(q.path(last.n), valid); err != nil {
		return false, fmt.Errorf("cut torn spool tail: %w", err)
	}
	q.segs[len(q.segs)-1].size = valid
	if q.head.seg == last.n {
		q.head.off = min(q.head.off, valid)
	}
	return true, nil
}

func segNumber(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil
}

func (q *queue) path(n uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%016x%s", n, segSuffix))
}

func (q *queue) last() segment { return q.segs[len(q.segs)-1] }

func (q *queue) create(n uint64) error {
	f, err := os.OpenFile(q.path(n), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create spool segment: %w", err)
	}
	q.segs = append(q.segs, segment{n: n})
	q.dirDirty = true
	if q.w == nil {
		// During load: openQueue opens the last segment itself.
		return f.Close()
	}
	q.w = f
	return nil
}

// append writes one framed record. A full segment is sealed (synced and
// closed) first, so that only the segment being written can be torn.
func (q *queue) append(rec []byte) error {
	if last := q.last(); last.size > 0 && last.size+int64(len(rec)) > q.segBytes {
		if err := q.rotate(); err != nil {
			return err
		}
	}
	if _, err := q.w.Write(rec); err != nil {
		return fmt.Errorf("append to spool: %w", err)
	}
	q.segs[len(q.segs)-1].size += int64(len(rec))
	q.unsynced = true
	return nil
}

func (q *queue) rotate() error {
	if err := q.w.Sync(); err != nil {
		return fmt.Errorf("sync spool segment: %w", err)
	}
	if err := q.w.Close(); err != nil {
		return fmt.Errorf("close spool segment: %w", err)
	}
	q.unsynced = false
	return q.create(q.last().n + 1)
}

// bytes is the size of the queue's segment files.
func (q *queue) bytes() int64 {
	var n int64
	for _, s := range q.segs {
		n += s.size
	}
	return n
}

// end is the position after the last record.
func (q *queue) end() pos { last := q.last(); return pos{seg: last.n, off: last.size} }

func (q *queue) hasUnread() bool { return q.read.less(q.end()) }

func (q *queue) hasUnacked() bool { return q.head.less(q.end()) }

func (q *queue) size(n uint64) (int64, bool) {
	i, ok := slices.BinarySearchFunc(q.segs, n, func(s segment, n uint64) int { return cmpUint(s.n, n) })
	if !ok {
		return 0, false
	}
	return q.segs[i].size, true
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// normalize moves p off the end of a sealed segment to the start of the
// next one.
func (q *queue) normalize(p pos) pos {
	for p.seg < q.last().n {
		size, ok := q.size(p.seg)
		if ok && p.off < size {
			break
		}
		p = pos{seg: p.seg + 1}
	}
	return p
}

// saveHead records the head by renaming a new file over the old, so the
// file always holds a whole position; it reaches the disk with the next
// directory sync, and until then a crash only makes the agent resend.
func (q *queue) saveHead() error {
	tmp := filepath.Join(q.dir, headFile+".tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", q.head.seg, q.head.off), 0o600); err != nil {
		return fmt.Errorf("write spool head: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(q.dir, headFile)); err != nil {
		return fmt.Errorf("write spool head: %w", err)
	}
	q.dirDirty = true
	return nil
}

// deleteBehind removes the segments wholly before the head.
func (q *queue) deleteBehind() error {
	for len(q.segs) > 1 && q.segs[0].n < q.head.seg {
		if err := q.remove(q.segs[0].n); err != nil {
			return err
		}
	}
	return nil
}

func (q *queue) remove(n uint64) error {
	if q.rd != nil && q.rdSeg == n {
		q.rd.Close()
		q.rd = nil
	}
	if err := os.Remove(q.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove spool segment: %w", err)
	}
	q.segs = q.segs[1:]
	q.dirDirty = true
	return nil
}

// ack moves the head to end (never back) and deletes what it passed.
func (q *queue) ack(end pos) error {
	if !q.head.less(end) {
		return nil
	}
	q.head = q.normalize(end)
	if q.read.less(q.head) {
		q.read = q.head
	}
	if err := q.saveHead(); err != nil {
		return err
	}
	return q.deleteBehind()
}

// rewind hands out everything not acknowledged again.
func (q *queue) rewind() { q.read = q.head }

// reclaimAcked frees the last segment when every record in it is
// acknowledged, which ack alone cannot: the last segment is never
// deleted.
func (q *queue) reclaimAcked() error {
	if q.hasUnacked() || q.last().size == 0 {
		return nil
	}
	if err := q.rotate(); err != nil {
		return err
	}
	return q.ack(q.end())
}

// dropOldest removes the oldest segment whatever its state and returns
// the payloads of its records that were not acknowledged.
func (q *queue) dropOldest() ([][]byte, error) {
	if len(q.segs) == 1 {
		if err := q.rotate(); err != nil {
			return nil, err
		}
	}
	oldest := q.segs[0]
	from := int64(0)
	if q.head.seg == oldest.n {
		from = q.head.off
	}
	lost, _, err := q.readFrom(pos{seg: oldest.n, off: from}, oldest.n, int(^uint(0)>>1), int(^uint(0)>>1))
	if err != nil && !errors.Is(err, errTorn) {
		return nil, err
	}
	next := q.segs[1].n
	if err := q.remove(oldest.n); err != nil {
		return nil, err
	}
	if q.head.seg < next {
		q.head = pos{seg: next}
	}
	if q.read.less(q.head) {
		q.read = q.head
	}
	return lost, q.saveHead()
}

// take hands out up to maxEvents records, about maxBytes at most (a
// record larger than that comes alone), from the read cursor on.
func (q *queue) take(maxEvents, maxBytes int) ([][]byte, pos, error) {
	recs, next, err := q.readFrom(q.read, q.last().n, maxEvents, maxBytes)
	if next.less(q.read) {
		next = q.read
	}
	q.read = next
	return recs, next, err
}

// readFrom reads records from p on, up to the end of segment upto.
// A corrupt record in a sealed segment (the disk failed it) skips the
// rest of that segment and is reported with the records before it.
func (q *queue) readFrom(p pos, upto uint64, maxEvents, maxBytes int) ([][]byte, pos, error) {
	var out [][]byte
	total := 0
	for len(out) < maxEvents && total < maxBytes {
		if p = q.normalize(p); p.seg > upto {
			break
		}
		size, ok := q.size(p.seg)
		if !ok || p.off >= size {
			break
		}
		buf, err := q.readChunk(p, size)
		if err != nil {
			return out, p, err
		}
		for len(buf) > 0 && len(out) < maxEvents {
			payload, n, err := unframe(buf)
			if err != nil {
				if len(buf) >= int(size-p.off) { // not cut by the chunk: corrupt
					return out, pos{seg: p.seg, off: size}, fmt.Errorf("spool segment %d at %d: %w", p.seg, p.off, err)
				}
				break
			}
			if total > 0 && total+n > maxBytes {
				return out, p, nil
			}
			out = append(out, payload)
			total += n
			p.off += int64(n)
			buf = buf[n:]
		}
	}
	return out, p, nil
}

// readChunk reads from p up to readChunk bytes, or the whole first record
// when it is larger.
func (q *queue) readChunk(p pos, size int64) ([]byte, error) {
	f, err := q.reader(p.seg)
	if err != nil {
		return nil, err
	}
	want := min(size-p.off, readChunk)
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, p.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read spool segment: %w", err)
	}
	if len(buf) >= headerLen {
		if need := int64(headerLen) + int64(binary.LittleEndian.Uint32(buf)); need > want && need <= size-p.off && need <= MaxRecord+headerLen {
			buf = make([]byte, need)
			if _, err := f.ReadAt(buf, p.off); err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("read spool segment: %w", err)
			}
		}
	}
	return buf, nil
}

func (q *queue) reader(n uint64) (*os.File, error) {
	if q.rd != nil && q.rdSeg == n {
		return q.rd, nil
	}
	if q.rd != nil {
		q.rd.Close()
	}
	f, err := os.Open(q.path(n))
	if err != nil {
		return nil, fmt.Errorf("open spool segment: %w", err)
	}
	q.rd, q.rdSeg = f, n
	return f, nil
}

// syncTargets returns what sync must flush and marks it flushed; the
// flush itself runs without Spool.mu so that appends do not wait for the
// disk.
func (q *queue) syncTargets() (seg *os.File, dir bool) {
	if q.unsynced {
		seg = q.w
	}
	dir = q.dirDirty
	q.unsynced, q.dirDirty = false, false
	return seg, dir
}

func (q *queue) close() error {
	var errs []error
	if q.rd != nil {
		errs = append(errs, q.rd.Close())
	}
	if q.w != nil {
		errs = append(errs, q.w.Sync(), q.w.Close())
	}
	errs = append(errs, syncDir(q.dir))
	return errors.Join(errs...)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync spool dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync spool dir: %w", err)
	}
	return nil
}
