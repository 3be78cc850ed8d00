package cpclient

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// EncodedBatch is an agentv1.EventBatch in its wire form. An UploadStream
// sends it as it is (SendMsg): the spool keeps events encoded, and the
// agent need not decode them only to have them encoded again.
type EncodedBatch []byte

// The EventBatch fields EncodeBatch writes, from the generated code, so
// that a renumbering in the .proto cannot go unnoticed.
var (
	batchFields = (&agentv1.EventBatch{}).ProtoReflect().Descriptor().Fields()
	batchSeqNum = batchFields.ByName("batch_seq").Number()
	eventsNum   = batchFields.ByName("events").Number()
)

// EncodeBatch is the EventBatch of seq and events, each event an encoded
// commonv1.Event: exactly what proto.Marshal makes of the decoded batch.
func EncodeBatch(seq uint64, events [][]byte) EncodedBatch {
	n := protowire.SizeTag(batchSeqNum) + protowire.SizeVarint(seq)
	for _, ev := range events {
		n += protowire.SizeTag(eventsNum) + protowire.SizeBytes(len(ev))
	}
	b := make([]byte, 0, n)
	b = protowire.AppendTag(b, batchSeqNum, protowire.VarintType)
	b = protowire.AppendVarint(b, seq)
	for _, ev := range events {
		b = protowire.AppendTag(b, eventsNum, protowire.BytesType)
		b = protowire.AppendBytes(b, ev)
	}
	return b
}

// uploadCodec is gRPC's protobuf codec, except that it sends an
// EncodedBatch as it is.
type uploadCodec struct{ proto encoding.CodecV2 }

func (c uploadCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(EncodedBatch); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.proto.Marshal(v)
}

func (c uploadCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

// Name is the content subtype on the wire: the server decodes as usual.
func (c uploadCodec) Name() string { return c.proto.Name() }

// uploadCodecOption opens Upload streams with uploadCodec; gRPC itself
// registers the "proto" codec it wraps.
func uploadCodecOption() grpc.CallOption {
	return grpc.ForceCodecV2(uploadCodec{proto: encoding.GetCodecV2("proto")})
}
