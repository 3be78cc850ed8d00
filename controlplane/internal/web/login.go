package web

import (
	"net/http"
	"strings"
)

// loginFormAge is how long a sign-in form stays usable.
const loginFormAge = 10 * 60

// loginPage shows the sign-in form with a fresh login CSRF token, bound
// to the browser by a cookie (there is no session yet to bind it to).
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.sessions.lookup(r); err == nil {
		http.Redirect(w, r, "/requests", http.StatusSeeOther)
		return
	}
	notice := ""
	if r.URL.Query().Get("expired") != "" {
		notice = "Your session ended; sign in again."
	}
	c.showLogin(w, r, http.StatusOK, "", notice, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, problem, notice, user string) {
	token := randomToken()
	setCookie(w, loginCookie, token, loginFormAge)
	c.render(w, r, status, "login", loginView{pageView: pageView{Title: "Sign in", CSRF: token, Error: problem, Notice: notice}, Name: user})
}

// login checks the name and TOTP code with the core (which audits the
// attempt, refuses replays and limits failures) and starts a session
// under a new token, so no token from before sign-in survives it.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	cookie, err := r.Cookie(loginCookie)
	if err != nil || !c.validForm(w, r, cookie.Value) {
		c.showLogin(w, r, errStaleLogin.status, errStaleLogin.message, "", "")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("user"))
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if _, err := c.cfg.Core.Login(r.Context(), name, code, remoteAddr(r)); err != nil {
		f := failureOf(err)
		c.showLogin(w, r, f.status, f.message, "", name)
		return
	}
	token, err := c.sessions.create(r.Context(), name)
	if err != nil {
		c.cfg.Log.Error("console: create session", "user", name, "error", err)
		c.showLogin(w, r, http.StatusInternalServerError, failureOf(err).message, "", name)
		return
	}
	clearCookie(w, loginCookie)
	setCookie(w, sessionCookie, token, 0)
	http.Redirect(w, r, "/requests", http.StatusSeeOther)
}

// logout ends the session server-side, so a copied cookie is worthless.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, sess session) {
	if err := c.sessions.end(r.Context(), sess); err != nil {
		c.renderError(w, r, &sess, failureOf(err))
		return
	}
	if err := c.cfg.Core.Logout(r.Context(), sess.user, remoteAddr(r)); err != nil {
		c.cfg.Log.Warn("console: audit logout", "user", sess.user, "error", err)
	}
	clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
