package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// BenchmarkUpload is ingest through the whole server: mutual TLS, gRPC,
// decoding, the authorizer, one transaction per batch, the ack; 4
// hosts with 4 batches of 512 in flight each, as agents upload.
func BenchmarkUpload(b *testing.B) {
	srv, dir := startServer(b)
	addr, pool := srv.GRPCAddr().String(), caPool(b, dir)
	const hosts, batch, window = 4, 512, 4
	clients := make([]agentv1.TelemetryServiceClient, hosts)
	for i := range clients {
		h, err := enrollHost(b, dial(b, addr, pool, nil), newToken(b, dir, "env=dev"), nil)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = agentv1.NewTelemetryServiceClient(dial(b, addr, pool, &h.cert))
	}
	perHost := max(b.N/hosts, 1)
	b.ResetTimer()
	start := time.Now()
	errs := make(chan error, hosts)
	for _, c := range clients {
		go func() { errs <- uploadBatches(c, perHost, batch, window) }()
	}
	for range hosts {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(perHost*hosts*batch)/time.Since(start).Seconds(), "events/s")
}

func uploadBatches(c agentv1.TelemetryServiceClient, n, size, window int) error {
	stream, err := c.Upload(context.Background())
	if err != nil {
		return err
	}
	sem := make(chan struct{}, window)
	go func() {
		for i := range n {
			sem <- struct{}{}
			evs := make([]*commonv1.Event, size)
			for j := range evs {
				evs[j] = &commonv1.Event{Id: uuid.Must(uuid.NewV7()).String(), Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_EXEC, User: "alice",
					Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Filename: "/usr/bin/systemctl", Argv: []string{"systemctl", "restart", "nginx", fmt.Sprint(j)},
						Process: &commonv1.Process{Pid: uint32(j), Ppid: 1, Loginuid: 1000, SessionId: 7, Tty: "pts/3", Comm: "systemctl"}}}}
			}
			if err := stream.Send(&agentv1.EventBatch{BatchSeq: uint64(i + 1), Events: evs}); err != nil {
				return
			}
		}
	}()
	for range n {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		<-sem
	}
	return stream.CloseSend()
}
