package pamctl

import (
	"strings"
	"testing"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func chunk(id string, seq uint32, data string, final bool) *commonv1.Event {
	return &commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_RECORDING, Detail: &commonv1.Event_Recording{Recording: &commonv1.RecordingChunk{
		RecordingId: id, Seq: seq, Asciicast: []byte(data), Final: final}}}
}

func TestReassembleOrdersChunksAndRefusesGaps(t *testing.T) {
	got, err := reassemble("r", []*commonv1.Event{chunk("r", 1, "b", false), chunk("other", 0, "x", true), chunk("r", 0, "a", false), chunk("r", 2, "c", true)})
	if err != nil || string(got) != "abc" {
		t.Fatalf("reassemble = %q, %v; want abc", got, err)
	}
	for name, evs := range map[string][]*commonv1.Event{
		"gap":      {chunk("r", 0, "a", false), chunk("r", 2, "c", true)},
		"no final": {chunk("r", 0, "a", false)},
		"none":     {chunk("other", 0, "x", true)},
	} {
		if _, err := reassemble("r", evs); err == nil || !strings.Contains(err.Error(), "recording r") {
			t.Errorf("%s: %v; want a sentence about recording r", name, err)
		}
	}
}
