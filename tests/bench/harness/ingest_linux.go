package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// uploadWindow is the agent's default number of unacknowledged batches.
const uploadWindow = 4

// runIngest enrolls cfg.Hosts hosts and has them all upload at once, as
// agents do: batches in order, a window of unacknowledged ones.
func runIngest(ctx context.Context, cp *telemetryCP, cfg PipelineConfig) (IngestResult, error) {
	res := IngestResult{Hosts: cfg.Hosts, BatchSize: cfg.BatchSize}
	conns := make([]*grpc.ClientConn, cfg.Hosts)
	for i := range conns {
		conn, err := enrollFakeHost(ctx, cp, fmt.Sprintf("bench-host-%d", i))
		if err != nil {
			return res, err
		}
		defer conn.Close()
		conns[i] = conn
	}
	pid := cp.proc.cmd.Process.Pid
	cpu0, err := processCPU(pid)
	if err != nil {
		return res, err
	}
	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Hosts)
	for _, conn := range conns {
		wg.Go(func() {
			l, err := uploadAll(ctx, conn, cfg.Batches, cfg.BatchSize)
			mu.Lock()
			lat = append(lat, l...)
			mu.Unlock()
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return res, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	cpu1, err := processCPU(pid)
	if err != nil {
		return res, err
	}
	res.Events = int64(cfg.Hosts * cfg.Batches * cfg.BatchSize)
	res.EventsPerSecond = float64(res.Events) / res.Seconds
	res.CPUSeconds = (cpu1 - cpu0).Seconds()
	if res.CPUSeconds > 0 {
		res.EventsPerCPUSecond = float64(res.Events) / res.CPUSeconds
	}
	stored, _, err := metricSum(cp.http, "zpam_telemetry_events_ingested_total")
	res.Stored = int64(stored)
	slices.Sort(lat)
	res.BatchP50Ms, res.BatchP99Ms = ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100])
	res.PeakRSSKiB = peakRSS(pid)
	return res, err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// uploadAll streams n batches of fresh events and returns each batch's
// time from send to ack.
func uploadAll(ctx context.Context, conn *grpc.ClientConn, n, size int) ([]time.Duration, error) {
	stream, err := agentv1.NewTelemetryServiceClient(conn).Upload(ctx)
	if err != nil {
		return nil, err
	}
	sent := make(chan time.Time, uploadWindow)
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			b := &agentv1.EventBatch{BatchSeq: uint64(i + 1), Events: benchEvents(size)}
			sent <- time.Now()
			if err := stream.Send(b); err != nil {
				errc <- err
				return
			}
		}
		errc <- stream.CloseSend()
	}()
	lat := make([]time.Duration, 0, n)
	for range n {
		ack, err := stream.Recv()
		if err != nil {
			return lat, fmt.Errorf("upload: %w", err)
		}
		lat = append(lat, time.Since(<-sent))
		if ack.GetStored()+ack.GetDuplicates() != uint32(size) {
			return lat, fmt.Errorf("ack %v for a batch of %d", ack, size)
		}
	}
	return lat, <-errc
}

// benchEvents are exec events as an agent sends them: process identity,
// a few arguments, attribution to a grant.
func benchEvents(n int) []*commonv1.Event {
	evs := make([]*commonv1.Event, n)
	for i := range evs {
		evs[i] = &commonv1.Event{Id: uuid.Must(uuid.NewV7()).String(), Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_EXEC,
			User: "alice", GrantId: "g-0123456789abcdef", RequestId: "r-0123456789abcdef", Approvers: []string{"carol"},
			Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{
				Process:  &commonv1.Process{Pid: uint32(10000 + i), Ppid: 9999, Loginuid: 1000, SessionId: 7, Tty: "pts/3", Comm: "systemctl", CgroupId: 4242},
				Filename: "/usr/bin/systemctl", Argv: []string{"systemctl", "restart", "nginx.service", "--no-pager"}, Cwd: "/root",
			}}}
	}
	return evs
}

// enrollFakeHost enrolls a host the way an agent does and returns a
// connection with its certificate.
func enrollFakeHost(ctx context.Context, cp *telemetryCP, hostname string) (*grpc.ClientConn, error) {
	tok, err := cp.token()
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(cp.data, "ca.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	anon, err := grpc.NewClient(cp.listen, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})))
	if err != nil {
		return nil, err
	}
	defer anon.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: hostname}}, key)
	if err != nil {
		return nil, err
	}
	resp, err := agentv1.NewAgentServiceClient(anon).Enroll(ctx, &agentv1.EnrollRequest{JoinToken: tok, CsrDer: csr, Facts: &agentv1.HostFacts{Hostname: hostname}})
	if err != nil {
		return nil, fmt.Errorf("enroll %s: %w", hostname, err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(resp.GetCertificatePem(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(cp.listen, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})))
}
