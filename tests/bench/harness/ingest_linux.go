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
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// uploadWindow is the agent's default number of unacknowledged batches.
const uploadWindow = 4

// runIngest enrolls lvl.Hosts hosts and has them all upload at once, as
// agents do: batches in order, a window of unacknowledged ones. The
// batches are made and encoded before the clock starts and sent as they
// are, so that the clients, which share the machine with the control
// plane, take as little of it as they can; their CPU time is reported.
func runIngest(ctx context.Context, cp *telemetryCP, lvl IngestLevel, events int) (IngestResult, error) {
	res := IngestResult{Hosts: lvl.Hosts, BatchSize: lvl.BatchSize}
	conns := make([]*grpc.ClientConn, lvl.Hosts)
	for i := range conns {
		conn, err := enrollFakeHost(ctx, cp, fmt.Sprintf("bench-host-%d-%d", lvl.Hosts, i))
		if err != nil {
			return res, err
		}
		defer conn.Close()
		conns[i] = conn
	}
	batches := max(events/(lvl.Hosts*lvl.BatchSize), 1)
	encoded := make([][][]byte, lvl.Hosts)
	for i := range encoded {
		var err error
		if encoded[i], err = encodeBatches(batches, lvl.BatchSize); err != nil {
			return res, err
		}
	}
	runtime.GC()
	stored0, _, err := metricSum(cp.http, "zpam_telemetry_events_ingested_total")
	if err != nil {
		return res, err
	}
	pid := cp.proc.cmd.Process.Pid
	cpu0, err := processCPU(pid)
	if err != nil {
		return res, err
	}
	self0 := selfCPU()
	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, lvl.Hosts)
	for i, conn := range conns {
		wg.Go(func() {
			l, err := uploadAll(ctx, conn, encoded[i], lvl.BatchSize)
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
	res.ClientCPUSeconds = (selfCPU() - self0).Seconds()
	cpu1, err := processCPU(pid)
	if err != nil {
		return res, err
	}
	res.Events = int64(lvl.Hosts * batches * lvl.BatchSize)
	res.EventsPerSecond = float64(res.Events) / res.Seconds
	res.CPUSeconds = (cpu1 - cpu0).Seconds()
	if res.CPUSeconds > 0 {
		res.EventsPerCPUSecond = float64(res.Events) / res.CPUSeconds
	}
	stored, _, err := metricSum(cp.http, "zpam_telemetry_events_ingested_total")
	res.Stored = int64(stored - stored0)
	slices.Sort(lat)
	res.BatchP50Ms, res.BatchP99Ms = ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100])
	res.PeakRSSKiB = peakRSS(pid)
	return res, err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU is this process's user and system time: what the clients took.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// encodeBatches makes n batches of size fresh events, encoded.
func encodeBatches(n, size int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		b, err := proto.Marshal(&agentv1.EventBatch{BatchSeq: uint64(i + 1), Events: benchEvents(size)})
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// encoded is a message already in its wire form.
type encoded []byte

// rawCodec sends encoded messages as they are, and encodes and decodes
// the others as gRPC's own codec does.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if e, ok := v.(encoded); ok {
		return e, nil
	}
	return proto.Marshal(v.(proto.Message))
}

func (rawCodec) Unmarshal(data []byte, v any) error { return proto.Unmarshal(data, v.(proto.Message)) }
func (rawCodec) Name() string                       { return "proto" }

// uploadAll streams the encoded batches and returns each batch's time
// from send to ack.
func uploadAll(ctx context.Context, conn *grpc.ClientConn, batches [][]byte, size int) ([]time.Duration, error) {
	desc := &agentv1.TelemetryService_ServiceDesc.Streams[0]
	stream, err := conn.NewStream(ctx, desc, agentv1.TelemetryService_Upload_FullMethodName, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return nil, err
	}
	sent := make(chan time.Time, uploadWindow)
	errc := make(chan error, 1)
	go func() {
		for _, b := range batches {
			sent <- time.Now()
			if err := stream.SendMsg(encoded(b)); err != nil {
				errc <- err
				return
			}
		}
		errc <- stream.CloseSend()
	}()
	lat := make([]time.Duration, 0, len(batches))
	for range batches {
		var ack agentv1.UploadAck
		if err := stream.RecvMsg(&ack); err != nil {
			return lat, fmt.Errorf("upload: %w", err)
		}
		lat = append(lat, time.Since(<-sent))
		if ack.GetStored()+ack.GetDuplicates() != uint32(size) {
			return lat, fmt.Errorf("ack %v for a batch of %d", &ack, size)
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
