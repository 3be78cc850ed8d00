package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
)

func TestLoginWithTOTPStartsASession(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	if p := b.get("/requests"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
		t.Fatalf("GET /requests signed out: %d %q; want a redirect to /login", p.status, p.header.Get("Location"))
	}
	p := b.login("carol", f.code("carol"))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/requests" {
		t.Fatalf("sign in: %d %q %s", p.status, p.header.Get("Location"), errorOf(p))
	}
	cookie := setCookie(t, p, "__Host-zpam-session")
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || len(cookie.Value) < 64 {
		t.Fatalf("session cookie %+v; want Secure, HttpOnly, SameSite=Strict, Path=/ and a long random value", cookie)
	}
	list := b.list()
	if !strings.Contains(list.body, `<span class="me">carol</span>`) {
		t.Fatalf("requests page does not say who is signed in:\n%s", list.body)
	}
	evs := f.audit(store.AuditQuery{Kind: requests.AuditLogin})
	if len(evs) != 1 || evs[0].Actor != "carol" || evs[0].Detail["channel"] != "console" || evs[0].Detail["source_address"] != "127.0.0.1" {
		t.Fatalf("login audit events %+v; want one by carol from 127.0.0.1 through the console", evs)
	}
}

func TestLoginRefusesBadAndReplayedCodes(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	good := f.code("carol")
	wrong := "000000"
	if wrong == good {
		wrong = "111111"
	}
	for _, c := range []struct{ name, user, code, want string }{
		{"wrong code", "carol", wrong, "the user name or the code is not valid"},
		{"unregistered person", "mallory", good, "the user name or the code is not valid"},
		{"not a user name", "../etc", good, `user name "../etc" is not a unix user name.`},
	} {
		p := b.login(c.user, c.code)
		if p.status == http.StatusSeeOther || !strings.HasPrefix(errorOf(p), c.want) || hasCookie(p, "__Host-zpam-session") {
			t.Errorf("%s: %d, error %q; want it refused with %q and no session", c.name, p.status, errorOf(p), c.want)
		}
	}
	if b.get("/requests").status != http.StatusSeeOther {
		t.Fatal("a refused sign-in left the browser signed in")
	}
	b.signIn("carol") // the right code still works after the failures
	other := f.browser()
	if p := other.login("carol", good); p.status != http.StatusUnauthorized {
		t.Fatalf("the same code again: %d %s; want it refused as a replay", p.status, errorOf(p))
	}
	failed := f.audit(store.AuditQuery{Kind: requests.AuditLoginFailed})
	if len(failed) != 3 || failed[0].Detail["reason"] != "the one-time code was already used; wait for the next one" {
		t.Fatalf("login_failed events %+v; want the wrong code, the stranger and the replay, with causes", failed)
	}
}

func TestLoginFormNeedsItsOwnToken(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	// A page elsewhere posting a sign-in form has neither the cookie nor
	// the token of a form this console served.
	p := b.post("/login", url.Values{"user": {"carol"}, "code": {f.code("carol")}})
	if p.status != http.StatusForbidden || hasCookie(p, "__Host-zpam-session") {
		t.Fatalf("sign-in without the form's token: %d %s; want 403 and no session", p.status, errorOf(p))
	}
	b.get("/login") // the cookie is set, but the token is still missing
	if p := b.post("/login", url.Values{"user": {"carol"}, "code": {f.code("carol")}, "csrf": {strings.Repeat("ab", 32)}}); p.status != http.StatusForbidden {
		t.Fatalf("sign-in with a made-up token: %d; want 403", p.status)
	}
	if evs := f.audit(store.AuditQuery{User: "carol"}); len(evs) != 0 {
		t.Fatalf("refused forms reached the core: %+v", evs)
	}
	b.signIn("carol") // and the code was not used up by the refused posts
}

func TestSecurityHeadersAndNoCaching(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn("carol")
	for _, path := range []string{"/login", "/requests", "/audit"} {
		p := b.get(path)
		for h, want := range map[string]string{
			"Content-Security-Policy":   "frame-ancestors 'none'",
			"X-Frame-Options":           "DENY",
			"Cache-Control":             "no-store",
			"X-Content-Type-Options":    "nosniff",
			"Strict-Transport-Security": "max-age=",
		} {
			if !strings.Contains(p.header.Get(h), want) {
				t.Errorf("%s: %s = %q; want it to contain %q", path, h, p.header.Get(h), want)
			}
		}
	}
	if csp := b.get("/requests").header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows more than the console's own script", csp)
	}
}

func TestSessionEndsWhenIdleOrOld(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn("carol")
	f.clock.add(idle - time.Minute)
	b.list() // still in, and the visit counts as activity
	f.clock.add(idle - time.Minute)
	b.list()
	f.clock.add(idle)
	if p := b.get("/requests"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?expired=1" {
		t.Fatalf("after %v idle: %d %q; want a redirect to sign in again", idle, p.status, p.header.Get("Location"))
	}
	if p := b.get("/login?expired=1"); !strings.Contains(p.body, "Your session ended") {
		t.Fatal("the sign-in page does not say the session ended")
	}

	f.clock.add(time.Minute) // a new TOTP step for carol
	b.signIn("carol")
	for elapsed := idle / 2; elapsed < maxAge; elapsed += idle / 2 {
		f.clock.add(idle / 2)
		b.list() // never idle, and younger than maxAge
	}
	f.clock.add(idle / 2)
	if p := b.get("/requests"); p.status != http.StatusSeeOther {
		t.Fatalf("an active session past its maximum age %v: %d; want it ended", maxAge, p.status)
	}
}

func TestLogoutRevokesTheSessionServerSide(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn("carol")
	list := b.list()
	stolen := b.http.Jar.Cookies(mustURL(t, f.srv.URL))
	if p := b.post("/logout", url.Values{"csrf": {csrfOf(t, list)}}); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.status)
	}
	thief := f.browser()
	thief.http.Jar.SetCookies(mustURL(t, f.srv.URL), stolen)
	if p := thief.get("/requests"); p.status != http.StatusSeeOther {
		t.Fatalf("the cookie of a logged-out session still opens the console: %d", p.status)
	}
	if evs := f.audit(store.AuditQuery{Kind: requests.AuditLogout}); len(evs) != 1 || evs[0].Detail["channel"] != "console" {
		t.Fatalf("logout audit events %+v", evs)
	}
}

func setCookie(t *testing.T, p page, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie set; Set-Cookie: %q", name, p.header.Values("Set-Cookie"))
	return nil
}

func hasCookie(p page, name string) bool {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
