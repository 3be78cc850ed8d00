package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/zpam/zpam/controlplane/internal/requests"
)

// Actions after sign-in: each is one call into the core, which checks the
// person's right to act again and writes the audit event (with the
// console as the channel). On success the browser is sent back to the
// list (so a reload does not repeat the action); on failure the list is
// shown with the core's reason and a matching status.

// approve passes the form's one-time code, which the core checks when the
// request's role asks approvers for one.
func (c *Console) approve(w http.ResponseWriter, r *http.Request, sess session) {
	otp := strings.TrimSpace(r.PostForm.Get("otp"))
	c.act(w, r, sess, "approved", func(ctx context.Context, actor, id, comment string) (requests.View, error) {
		return c.cfg.Core.ApproveWithOTP(ctx, actor, id, comment, otp)
	})
}

func (c *Console) deny(w http.ResponseWriter, r *http.Request, sess session) {
	c.act(w, r, sess, "denied", c.cfg.Core.Deny)
}

func (c *Console) revoke(w http.ResponseWriter, r *http.Request, sess session) {
	c.act(w, r, sess, "revoked", c.cfg.Core.Revoke)
}

// coreAction is Approve, Deny or Revoke of the core.
type coreAction func(ctx context.Context, actor, id, comment string) (requests.View, error)

func (c *Console) act(w http.ResponseWriter, r *http.Request, sess session, done string, action coreAction) {
	id := r.PathValue("id")
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	if _, err := action(r.Context(), sess.user, id, comment); err != nil {
		f := failureOf(err)
		c.showRequests(w, r, sess, f.status, f.message, "")
		return
	}
	http.Redirect(w, r, "/requests?"+url.Values{"done": {done}, "id": {id}}.Encode(), http.StatusSeeOther)
}

// doneNotice is the confirmation after a redirect. Only known words are
// shown, so a crafted link cannot put text of its choosing on the page.
func doneNotice(r *http.Request) string {
	q := r.URL.Query()
	switch done := q.Get("done"); done {
	case "approved", "denied", "revoked":
		return "Request " + shortID(q.Get("id")) + " " + done + "."
	}
	return ""
}
