package web

import (
	"errors"
	"net"
	"net/http"
)

// maxFormBytes bounds a POST body; the largest form is a comment.
const maxFormBytes = 16 << 10

// authedHandler is a handler for a signed-in person.
type authedHandler func(w http.ResponseWriter, r *http.Request, sess session)

// authed demands a live session, and for a POST the session's CSRF token
// in the form. Without a session the browser is sent to sign in; the
// action is not taken.
func (c *Console) authed(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := c.sessions.lookup(r)
		switch {
		case errors.Is(err, errNoSession):
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		case errors.Is(err, errExpired):
			clearCookie(w, sessionCookie)
			http.Redirect(w, r, "/login?expired=1", http.StatusSeeOther)
			return
		case err != nil:
			c.cfg.Log.Error("console session lookup", "error", err)
			c.renderError(w, r, nil, failureOf(err))
			return
		}
		if r.Method == http.MethodPost && !c.validForm(w, r, sess.csrf) {
			c.cfg.Log.Warn("console: POST without a valid CSRF token refused", "user", sess.user, "path", r.URL.Path, "from", remoteAddr(r))
			c.renderError(w, r, &sess, errStaleForm)
			return
		}
		h(w, r, sess)
	})
}

// validForm parses a bounded form and checks its CSRF token against want.
func (c *Console) validForm(w http.ResponseWriter, r *http.Request, want string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	return sameToken(r.PostForm.Get("csrf"), want)
}

// remoteAddr is the peer's address without the port, for the audit trail.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
