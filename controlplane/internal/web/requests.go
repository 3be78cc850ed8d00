package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// refreshSeconds is how often the requests page reloads itself (with
// JavaScript, and only while nothing is being typed).
const refreshSeconds = 15

func (c *Console) requestsPage(w http.ResponseWriter, r *http.Request, sess session) {
	c.showRequests(w, r, sess, http.StatusOK, "", doneNotice(r))
}

// showRequests renders pending requests and active grants, with the
// actions the core says sess's person may take on each.
func (c *Console) showRequests(w http.ResponseWriter, r *http.Request, sess session, status int, problem, notice string) {
	views, err := c.cfg.Core.List(r.Context(), []store.Status{store.StatusPendingApproval, store.StatusGranted})
	if err != nil {
		c.renderError(w, r, &sess, failureOf(err))
		return
	}
	v := requestsView{pageView: c.page(sess, "Requests", problem, notice)}
	if problem == "" {
		v.Refresh = refreshSeconds // a reload must not wipe a reason shown once
	}
	now := c.cfg.Now()
	for _, rv := range views {
		switch {
		case rv.Request.Status.Pending():
			v.Pending = append(v.Pending, c.pendingOf(r.Context(), sess.user, rv.Request, now))
		case rv.Grant != nil && rv.Grant.State == store.GrantActive:
			v.Active = append(v.Active, c.activeOf(r.Context(), sess.user, rv, now))
		}
	}
	c.render(w, r, status, "requests", v)
}

func (c *Console) pendingOf(ctx context.Context, me string, r store.Request, now time.Time) pendingView {
	p := pendingView{requestFields: fieldsOf(r), Waiting: since(now, r.CreatedAt),
		Still: max(r.ApprovalsNeeded-len(r.ApprovedBy), 0), Needed: r.ApprovalsNeeded,
		From: approversText(r.ApproversAllowed), ApprovedBy: strings.Join(r.ApprovedBy, ", "),
		NeedsCode: r.ApprovalMFA, Deadline: r.ApprovalDeadline}
	if err := c.cfg.Core.MayApprove(ctx, me, r); err != nil {
		p.WhyNotApprove = failureOf(err).message
	} else {
		p.CanApprove = true
	}
	p.CanDeny = c.cfg.Core.MayDeny(ctx, me, r) == nil
	return p
}

func (c *Console) activeOf(ctx context.Context, me string, v requests.View, now time.Time) activeView {
	a := activeView{requestFields: fieldsOf(v.Request), ExpiresAt: v.Grant.ExpiresAt, Left: until(now, v.Grant.ExpiresAt),
		Scope: string(v.Grant.Scope), Approvers: strings.Join(v.Grant.Approvers, ", ")}
	if err := c.cfg.Core.MayRevoke(ctx, me, v.Request); err != nil {
		a.WhyNotRevoke = failureOf(err).message
	} else {
		a.CanRevoke = true
	}
	return a
}

func fieldsOf(r store.Request) requestFields {
	host := r.Hostname
	if host == "" {
		host = r.HostID
	}
	f := requestFields{ID: r.ID, Short: shortID(r.ID), User: r.User, UID: r.UID, Host: host, Role: r.Role,
		Duration: r.Duration.String(), Reason: r.Reason, Commands: r.Commands, Source: r.Context.SourceAddress,
		Parent: r.Context.ParentCommand, Requested: r.CreatedAt, TTY: "no", BreakGlass: r.BreakGlass, Workload: r.WorkloadID}
	if r.Context.TTY {
		f.TTY = "yes"
		if r.Context.TTYName != "" {
			f.TTY = r.Context.TTYName
		}
	}
	if r.Context.SessionID != requests.SessionUnset {
		f.Session = r.Context.SessionID
	}
	return f
}

// approversText says who may approve, as policy's approvals.from does.
func approversText(from []string) string {
	if len(from) == 0 {
		return "an admin credential (approvals.from is empty)"
	}
	return strings.Join(from, ", ")
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// since and until are coarse durations for people: "3m12s", "1h4m".
func since(now, t time.Time) string { return coarse(now.Sub(t)) }
func until(now, t time.Time) string { return coarse(t.Sub(now)) }

func coarse(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Hour:
		return d.Truncate(time.Second).String()
	default:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	}
}
