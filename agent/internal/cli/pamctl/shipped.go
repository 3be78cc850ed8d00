package pamctl

import (
	"bytes"
	"context"
	"slices"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// maxChunks is the most recording chunks one query asks for: the control
// plane's query limit, 10,000 chunks of about 16 KiB.
const maxChunks = 10000

// fetchShipped reassembles recording id from the EVENT_KIND_RECORDING
// chunks the control plane stored, for off-host replays; the audit trail
// decides whose events the credential may read.
func fetchShipped(cmd *cobra.Command, g *globals, id string) ([]byte, error) {
	src, err := dialAuditServer(g.server, g.credential)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), statusTimeout)
	defer cancel()
	resp, err := src.client().Query(ctx, &commonv1.AuditFilter{
		Grant: id, Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_RECORDING}, Limit: maxChunks})
	if err != nil {
		return nil, src.explain(err)
	}
	return reassemble(id, resp.GetEvents())
}

// reassemble orders id's chunks and checks that none is missing up to
// the final one: a recording still arriving is said to be so.
func reassemble(id string, evs []*commonv1.Event) ([]byte, error) {
	var chunks []*commonv1.RecordingChunk
	for _, ev := range evs {
		if c := ev.GetRecording(); c.GetRecordingId() == id {
			chunks = append(chunks, c)
		}
	}
	if len(chunks) == 0 {
		return nil, cli.Exit(cli.ExitFailure, "the control plane has no recording %s (the id is the request id pamctl elevate --shell printed)", id)
	}
	slices.SortFunc(chunks, func(a, b *commonv1.RecordingChunk) int { return int(a.GetSeq()) - int(b.GetSeq()) })
	var buf bytes.Buffer
	for i, c := range chunks {
		if c.GetSeq() != uint32(i) {
			return nil, cli.Exit(cli.ExitFailure, "recording %s has arrived only in part (chunk %d is missing); try again once the host has uploaded it", id, i)
		}
		buf.Write(c.GetAsciicast())
		if c.GetFinal() {
			return buf.Bytes(), nil
		}
	}
	return nil, cli.Exit(cli.ExitFailure, "recording %s has arrived only in part (%d chunks, the shell may still run); try again later", id, len(chunks))
}
