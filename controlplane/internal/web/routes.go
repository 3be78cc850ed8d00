package web

import (
	"io/fs"
	"net/http"

	"github.com/zpam/zpam/controlplane/internal/requests"
)

// routes lays out the console. Every route gets the security headers and
// cross-origin protection; every page after sign-in needs a session, and
// every POST after sign-in its CSRF token.
func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.Handle("POST /logout", c.authed(c.logout))
	mux.Handle("GET /requests", c.authed(c.requestsPage))
	mux.Handle("POST /requests/{id}/approve", c.authed(c.approve))
	mux.Handle("POST /requests/{id}/deny", c.authed(c.deny))
	mux.Handle("POST /requests/{id}/revoke", c.authed(c.revoke))
	mux.Handle("GET /audit", c.authed(c.auditPage))
	return securityHeaders(c.cfg.TLS, http.NewCrossOriginProtection().Handler(consoleChannel(mux)))
}

// consoleChannel tells the core that actions come through the console, so
// its audit events say so and its actors are treated as people.
func consoleChannel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(requests.WithChannel(r.Context(), requests.ChannelConsole)))
	})
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/requests", http.StatusSeeOther)
}
