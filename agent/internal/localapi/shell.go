package localapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/asciicast"
	"github.com/zpam/zpam/agent/internal/recording"
	"github.com/zpam/zpam/agent/internal/shell"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// grantPoll paces checking that a recorded shell's grant is still in the
// kernel map, the truth for expiry (also while the control plane is
// unreachable) and for revocations the grant stream delivered.
const grantPoll = 250 * time.Millisecond

// shellAPI serves LocalShell.
type shellAPI struct {
	localv1.UnimplementedLocalShellServer
	s *Server
}

// shellRun is one recorded shell, from request to end.
type shellRun struct {
	s      *Server
	stream localv1.LocalShell_ShellServer
	sendMu sync.Mutex
	sess   *shell.Session
	rec    *recording.Recording

	mu        sync.Mutex
	requestID string
	started   bool
}

func (r *shellRun) send(out *localv1.ShellOutput) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	return r.stream.Send(out)
}

// Shell elevates the caller into a recorded shell; see LocalShell.
func (a *shellAPI) Shell(stream localv1.LocalShell_ShellServer) error {
	s := a.s
	if s.o.Recordings == nil || s.o.Shells == nil {
		return status.Error(codes.FailedPrecondition, "this agent does not run recorded shells (no state dir or helper configured)")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "the first message of Shell must be start")
	}
	in, c, err := s.shellRequest(stream.Context(), start)
	if err != nil {
		return toStatus(err)
	}
	release, err := s.admit(c.UID)
	if err != nil {
		return toStatus(err)
	}
	defer release()
	run := &shellRun{s: s, stream: stream}
	return toStatus(run.run(stream.Context(), in, start))
}

// shellRequest is the elevation request of a recorded shell: the caller's
// own context, but the session is the one the helper will open.
func (s *Server) shellRequest(ctx context.Context, start *localv1.ShellStart) (*agentv1.ElevationRequest, Caller, error) {
	in, err := s.elevationRequest(ctx, start.GetElevate())
	if err != nil {
		return nil, Caller{}, err
	}
	c, err := CallerFrom(ctx)
	return in, c, err
}

func (r *shellRun) run(ctx context.Context, in *agentv1.ElevationRequest, start *localv1.ShellStart) error {
	size := start.GetSize()
	sess, err := shell.Start(shell.Spec{Launcher: r.s.o.Shells, UID: in.GetUid(), User: in.GetUser(), Term: start.GetTerm(),
		Cols: uint16(max(size.GetCols(), 20)), Rows: uint16(max(size.GetRows(), 5))})
	if err != nil {
		return err
	}
	r.sess = sess
	defer sess.Close()
	in.Context.SessionId, in.Context.Recorded = sess.ID, true
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go r.readInput(ctx, cancel)
	var last *localv1.ElevateUpdate
	err = r.s.fileAndFollow(ctx, in, false, func(u *localv1.ElevateUpdate) error {
		last = u
		r.setRequest(u.GetRequest().GetId())
		return r.send(&localv1.ShellOutput{Output: &localv1.ShellOutput_Update{Update: u}})
	})
	if err != nil || !last.GetEnforced() {
		return err
	}
	return r.shell(ctx, in, start, last.GetRequest())
}

func (r *shellRun) setRequest(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requestID = id
}

// shell runs the granted shell and records it until it ends.
func (r *shellRun) shell(ctx context.Context, in *agentv1.ElevationRequest, start *localv1.ShellStart, req *commonv1.Request) error {
	g := req.GetGrant()
	rec, err := r.s.o.Recordings.Create(recording.Meta{UID: in.GetUid(), User: in.GetUser(), RequestID: req.GetId(), GrantID: g.GetId(), Hostname: r.s.o.Hostname},
		asciicast.Header{Width: start.GetSize().GetCols(), Height: start.GetSize().GetRows(), Title: fmt.Sprintf("%s on %s, grant %s", in.GetUser(), r.s.o.Hostname, g.GetId()),
			Env: map[string]string{"TERM": start.GetTerm(), "SHELL": "sudo -i"}}, r.s.o.Publisher)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.rec, r.started = rec, true
	r.mu.Unlock()
	r.s.o.Log.Info("recorded shell starting", "request_id", req.GetId(), "grant_id", g.GetId(), "user", in.GetUser(), "session", r.sess.ID)
	if err := r.sess.Release(); err != nil {
		return errors.Join(err, rec.Close())
	}
	output := make(chan struct{})
	go func() { r.pumpOutput(); close(output) }()
	reason := r.wait(ctx, in.GetUid(), g)
	if reason == endGrant {
		note := fmt.Sprintf("\r\n[pam-agent: grant %s ended; the elevated shell is closed]\r\n", g.GetId())
		_ = rec.Output([]byte(note))
		_ = r.send(&localv1.ShellOutput{Output: &localv1.ShellOutput_Stdout{Stdout: []byte(note)}})
	}
	closeErr := r.sess.Close()
	<-output
	if reason != endGrant {
		r.endGrant(in.GetUser(), g.GetId(), reason)
	}
	err = rec.Close()
	r.s.o.Log.Info("recorded shell ended", "request_id", req.GetId(), "reason", string(reason), "exit_code", r.sess.ExitCode())
	return errors.Join(closeErr, err, r.send(&localv1.ShellOutput{Output: &localv1.ShellOutput_Ended{Ended: &localv1.ShellEnded{
		RecordingId: rec.ID(), Reason: string(reason), ExitCode: int32(r.sess.ExitCode())}}}))
}

type endReason string

const (
	endExited endReason = "the shell exited"
	endGrant  endReason = "the grant ended"
	endCaller endReason = "pamctl went away"
)

// wait returns when the shell exits, its grant leaves the kernel map, or
// the caller goes away: a root shell never outlives its grant or its
// viewer.
func (r *shellRun) wait(ctx context.Context, uid uint32, g *commonv1.Grant) endReason {
	t := time.NewTicker(grantPoll)
	defer t.Stop()
	for {
		select {
		case <-r.sess.Done():
			return endExited
		case <-ctx.Done():
			return endCaller
		case <-t.C:
			if !r.grantActive(uid, g.GetId()) {
				return endGrant
			}
		}
	}
}

func (r *shellRun) grantActive(uid uint32, id string) bool {
	grants, err := r.s.o.Grants.ForUID(uid)
	if err != nil {
		return true // the kernel still enforces; try again next tick
	}
	for _, g := range grants {
		if g.GetId() == id {
			return true
		}
	}
	return false
}

// pumpOutput copies what the shell shows to the recording and pamctl
// until the PTY closes.
func (r *shellRun) pumpOutput() {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.sess.PTY.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			_ = r.rec.Output(data)
			_ = r.send(&localv1.ShellOutput{Output: &localv1.ShellOutput_Stdout{Stdout: data}})
		}
		if err != nil {
			return
		}
	}
}

// readInput takes keys, resizes and the one-time code from pamctl; the
// end of the stream ends the shell.
func (r *shellRun) readInput(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	for {
		in, err := r.stream.Recv()
		if errors.Is(err, io.EOF) || err != nil {
			return
		}
		r.handleInput(ctx, in)
	}
}

func (r *shellRun) handleInput(ctx context.Context, in *localv1.ShellInput) {
	r.mu.Lock()
	rec, started, id := r.rec, r.started, r.requestID
	r.mu.Unlock()
	switch v := in.GetInput().(type) {
	case *localv1.ShellInput_Otp:
		if id != "" && !started {
			if _, err := r.s.o.ControlPlane.SubmitOTP(ctx, id, v.Otp); err != nil {
				r.s.o.Log.Warn("submit one-time code", "request_id", id, "err", err)
			}
		}
	case *localv1.ShellInput_Stdin:
		if started {
			_ = rec.Input(v.Stdin)
			_, _ = r.sess.PTY.Write(v.Stdin)
		}
	case *localv1.ShellInput_Resize:
		cols, rows := uint16(v.Resize.GetCols()), uint16(v.Resize.GetRows())
		if cols == 0 || rows == 0 {
			return
		}
		_ = r.sess.Resize(cols, rows)
		if started {
			_ = rec.Resize(uint32(cols), uint32(rows))
		}
	}
}

// ReadRecording streams one of the caller's recordings.
func (a *shellAPI) ReadRecording(req *localv1.ReadRecordingRequest, stream localv1.LocalShell_ReadRecordingServer) error {
	c, err := CallerFrom(stream.Context())
	if err != nil {
		return err
	}
	if a.s.o.Recordings == nil {
		return status.Error(codes.FailedPrecondition, "this agent keeps no recordings")
	}
	f, err := a.s.o.Recordings.Open(c.UID, req.GetId())
	if errors.Is(err, recording.ErrNotFound) {
		return status.Errorf(codes.NotFound, "no recording %s of yours on this host", req.GetId())
	}
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if err := stream.Send(&localv1.RecordingData{Asciicast: buf[:n]}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
	}
}

// endGrant gives the grant back once its shell is gone: it is bound to the
// shell's audit session, which nothing else can join, so it could serve
// nobody, and the audit trail should say when elevation ended.
func (r *shellRun) endGrant(user, id string, why endReason) {
	ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	if _, err := r.s.o.ControlPlane.RevokeFor(ctx, user, id, "recorded shell ended: "+string(why), false); err != nil {
		r.s.o.Log.Warn("end the grant of a finished recorded shell; it expires on its own", "grant_id", id, "err", err)
	}
}
