package cpclient

import (
	"testing"

	"google.golang.org/protobuf/proto"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// TestEncodeBatchIsTheBatchProtobufMakes: the server decodes an
// EncodedBatch as the EventBatch of those events, byte for byte what
// encoding the decoded batch would have sent.
func TestEncodeBatchIsTheBatchProtobufMakes(t *testing.T) {
	events := []*commonv1.Event{
		{Id: "e1", User: "alice", Kind: commonv1.EventKind_EVENT_KIND_EXEC, Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Argv: []string{"id", "-u"}}}},
		{Id: "e2", User: "bob", Kind: commonv1.EventKind_EVENT_KIND_EXIT},
	}
	var recs [][]byte
	for _, ev := range events {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	got := EncodeBatch(300, recs)
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(&agentv1.EventBatch{BatchSeq: 300, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("encoded %x, protobuf encodes %x", got, want)
	}
	var back agentv1.EventBatch
	if err := proto.Unmarshal(got, &back); err != nil || back.GetBatchSeq() != 300 || len(back.GetEvents()) != 2 || !proto.Equal(back.GetEvents()[0], events[0]) {
		t.Fatalf("decoded %v, %v", &back, err)
	}
	if empty := EncodeBatch(1, nil); len(empty) != 2 {
		t.Fatalf("an empty batch is %x, want its seq alone", empty)
	}
}
