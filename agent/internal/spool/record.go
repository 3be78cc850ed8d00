package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// headerLen is the length and CRC in front of every payload.
const headerLen = 8

// MaxRecord bounds one event's encoding; the agent bounds argv and
// recording chunks far below it.
const MaxRecord = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks a record that is incomplete or fails its checksum.
var errTorn = errors.New("torn or corrupt record")

// frame appends the record for payload to buf.
func frame(buf, payload []byte) []byte {
	var h [headerLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(payload, castagnoli))
	return append(append(buf, h[:]...), payload...)
}

// unframe reads the record at the start of b. It returns the payload and
// the record's total length, or errTorn when b does not hold a whole,
// intact record.
func unframe(b []byte) ([]byte, int, error) {
	if len(b) < headerLen {
		return nil, 0, errTorn
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n > MaxRecord {
		return nil, 0, fmt.Errorf("%w: length %d", errTorn, n)
	}
	end := headerLen + int(n)
	if len(b) < end {
		return nil, 0, errTorn
	}
	payload := b[headerLen:end]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, fmt.Errorf("%w: checksum", errTorn)
	}
	return payload, end, nil
}
