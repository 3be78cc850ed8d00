package cpclient

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// GrantHandler receives the grant stream. StreamOpened comes before the
// first event of every (re)connected stream, because a SYNCED marker
// covers only the grants named since its own stream opened. ResumeFrom
// is asked before each (re)connection: the revision to resume from, 0 for
// a snapshot.
type GrantHandler interface {
	StreamOpened()
	HandleGrantEvent(*agentv1.GrantEvent) error
	ResumeFrom() int64
}

// WatchGrants keeps a grant stream open until ctx ends, reconnecting with
// backoff, and hands every event to h in order.
func (c *Client) WatchGrants(ctx context.Context, h GrantHandler) {
	b := c.backoff
	for {
		received, err := c.watchGrantsOnce(ctx, h)
		c.setConnected(false)
		if ctx.Err() != nil {
			return
		}
		if received {
			b.Reset()
		}
		d := b.Next()
		c.log.Warn("grant stream ended; reconnecting", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return
		}
	}
}

func (c *Client) watchGrantsOnce(ctx context.Context, h GrantHandler) (received bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	from := h.ResumeFrom()
	stream, err := c.api.WatchGrants(ctx, &agentv1.WatchGrantsRequest{FromRevision: from})
	if err != nil {
		return false, err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return received, err
		}
		if !received {
			received = true
			c.setConnected(true)
			h.StreamOpened()
		}
		c.logMarker(ev, from)
		if err := h.HandleGrantEvent(ev); err != nil {
			c.log.Error("apply grant event", "kind", ev.GetKind().String(), "grant_id", ev.GetGrant().GetId(), "err", err)
		}
	}
}

// logMarker says whether the stream resumed or started over.
func (c *Client) logMarker(ev *agentv1.GrantEvent, from int64) {
	switch ev.GetKind() {
	case agentv1.GrantEvent_KIND_RESUMED:
		c.log.Info("grant stream resumed", "from_revision", from, "revision", ev.GetRevision())
	case agentv1.GrantEvent_KIND_SYNCED:
		c.log.Info("grant stream synchronised", "from_revision", from, "revision", ev.GetRevision())
	}
}

// WatchRequest calls fn with each status of request id until fn says done,
// the server ends the stream, or ctx ends. A lost connection is resumed
// with backoff; the server sends the current status first, so nothing is
// missed.
func (c *Client) WatchRequest(ctx context.Context, id string, fn func(*commonv1.Request) (done bool, err error)) error {
	b := c.backoff
	for {
		done, err := c.watchRequestOnce(ctx, id, fn)
		if done {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if status.Code(err) != codes.Unavailable {
			return err
		}
		c.log.Warn("request stream lost; resuming", "request_id", id, "err", err)
		if !sleep(ctx, b.Next()) {
			return ctx.Err()
		}
	}
}

// watchRequestOnce returns done when the watch is over for good, with the
// error that ended it if any.
func (c *Client) watchRequestOnce(ctx context.Context, id string, fn func(*commonv1.Request) (bool, error)) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.WatchRequest(ctx, &agentv1.WatchRequestRequest{RequestId: id})
	if err != nil {
		return false, err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if done, err := fn(req); done || err != nil {
			return true, err
		}
	}
}
