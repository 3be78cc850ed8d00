package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "requests", "audit", "error"}

// pages holds one parsed template set per page.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse console template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// render writes page name with data, or a plain 500 when the template
// fails: it renders into a buffer first, so no half page is sent.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages.byName[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		c.cfg.Log.Error("console: render", "page", name, "path", r.URL.Path, "error", err)
		http.Error(w, "internal error; see the control plane log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderError shows f on its own page; sess is nil before sign-in.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, sess *session, f failure) {
	v := pageView{Title: "Error", Error: f.message}
	if sess != nil {
		v = c.page(*sess, "Error", f.message, "")
	}
	c.render(w, r, f.status, "error", v)
}

// page is the part of every view after sign-in.
func (c *Console) page(sess session, title, problem, notice string) pageView {
	return pageView{Title: title, User: sess.user, CSRF: sess.csrf, Error: problem, Notice: notice}
}

// pageView is what the layout shows on every page.
type pageView struct {
	Title string
	// User is the signed-in person; empty before sign-in.
	User   string
	CSRF   string
	Error  string
	Notice string
	// Refresh, when set, reloads the page every so many seconds.
	Refresh int
}

type loginView struct {
	pageView
	// Name is the user name typed, kept after a refused sign-in.
	Name string
}

type requestsView struct {
	pageView
	Pending []pendingView
	Active  []activeView
}

// requestFields are what pending requests and active grants both show.
type requestFields struct {
	ID, Short, User, Host, Role string
	UID                         uint32
	Duration, Reason            string
	Commands                    []string
	TTY, Source, Parent         string
	Session                     uint32
	Requested                   time.Time
	// BreakGlass and Workload mark windows opened offline on a host and
	// requests of non-human identities.
	BreakGlass bool
	Workload   string
}

type pendingView struct {
	requestFields
	Waiting string
	// Still is how many approvals are missing out of Needed.
	Still, Needed       int
	From, ApprovedBy    string
	CanApprove, CanDeny bool
	WhyNotApprove       string
	// NeedsCode: the role asks each approver for a current TOTP code.
	NeedsCode bool
	Deadline  time.Time
}

type activeView struct {
	requestFields
	ExpiresAt    time.Time
	Left, Scope  string
	Approvers    string
	CanRevoke    bool
	WhyNotRevoke string
}

type auditView struct {
	pageView
	// The filters in force.
	FilterUser, FilterHost, FilterKind string
	Kinds                              []string
	Events                             []eventView
	// Older is the next page's link; Newest the first page's, when paged.
	Older, Newest string
}

type eventView struct {
	ID                      int64
	At                      time.Time
	Kind, Actor, User, Host string
	Request, Short, Detail  string
}
