package web_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/mfa"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/controlplane/internal/web"
)

// testPolicy: requests on prod need one approval from @sec-leads; on dev
// one approval from anyone, which only an admin credential may give.
const testPolicy = `groups:
  sec-leads: [carol]
roles:
  - name: prod-approved
    users: ["*"]
    hosts: {env: prod}
    max_duration: 1h
    approvals: {count: 1, from: ["@sec-leads"]}
  - name: dev-admin-approved
    users: ["*"]
    hosts: {env: dev}
    max_duration: 1h
    approvals: {count: 1}
  - name: vault-approved-with-code
    users: ["*"]
    hosts: {env: vault}
    max_duration: 1h
    approvals: {count: 1, from: ["@sec-leads"], mfa: true}
`

const (
	idle   = 10 * time.Minute
	maxAge = time.Hour
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a console over a real core and SQLite store, served over
// HTTPS by httptest, with people registered: carol (sec-leads), dave (no
// group), alice (sec-leads by registration, and a requester).
type fixture struct {
	t       *testing.T
	core    *requests.Service
	db      *store.Store
	clock   *clock
	srv     *httptest.Server
	secrets map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "zpam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, clock: &clock{t: time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)}, secrets: map[string]string{}}
	f.seed(map[string][]string{"carol": nil, "dave": nil, "alice": {"sec-leads"}})
	f.core = requests.New(requests.Config{Store: db, Policy: policy.Static(pol), Now: f.clock.now})
	console, err := web.New(web.Config{Core: f.core, Store: db, Now: f.clock.now, IdleTimeout: idle, MaxAge: maxAge, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(console)
	t.Cleanup(f.srv.Close)
	return f
}

// seed registers people with TOTP secrets and enrolls hosts db-1 (prod),
// dev-1 (dev) and vault-1 (vault).
func (f *fixture) seed(people map[string][]string) {
	f.t.Helper()
	err := f.db.Update(context.Background(), func(tx *store.Tx) error {
		for name, groups := range people {
			e, err := mfa.Enroll(name)
			if err != nil {
				return err
			}
			f.secrets[name] = e.Secret
			if err := tx.InsertUser(store.User{Name: name, Groups: groups, TOTPSecret: e.Secret, CreatedAt: f.clock.now()}); err != nil {
				return err
			}
		}
		for id, env := range map[string]string{"db-1": "prod", "dev-1": "dev", "vault-1": "vault"} {
			if err := tx.InsertHost(store.Host{ID: id, Hostname: id, Labels: map[string]string{"env": env}, EnrolledAt: f.clock.now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// request files an elevation by user on host, pending approval.
func (f *fixture) request(user, host string) string {
	f.t.Helper()
	v, err := f.core.RequestElevation(context.Background(), requests.Elevation{HostID: host, User: user, UID: 1001,
		Duration: 10 * time.Minute, Reason: "INC-7 rotate the disk", Commands: []string{"/usr/bin/systemctl"},
		Context: store.RequestContext{TTY: true, TTYName: "pts/3", SourceAddress: "192.0.2.7", SessionID: 12}})
	if err != nil || v.Request.Status != store.StatusPendingApproval {
		f.t.Fatalf("RequestElevation: %+v, %v; want pending", v.Request, err)
	}
	return v.Request.ID
}

func (f *fixture) status(id string) store.Status {
	f.t.Helper()
	v, err := f.core.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return v.Request.Status
}

// code is name's TOTP code now. Each is accepted once, so tests move the
// clock on by a step before signing the same person in again.
func (f *fixture) code(name string) string {
	f.t.Helper()
	c, err := mfa.Code(f.secrets[name], f.clock.now())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// audit is the console's audit trail, newest first.
func (f *fixture) audit(q store.AuditQuery) []store.AuditEntry {
	f.t.Helper()
	evs, err := f.core.AuditTrail(context.Background(), q)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

// browser is a client with its own cookie jar that does not follow
// redirects, so tests see each answer.
type browser struct {
	f    *fixture
	http *http.Client
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := f.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{f: f, http: c}
}

// page is one answer.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) get(path string) page {
	b.f.t.Helper()
	resp, err := b.http.Get(b.f.srv.URL + path)
	return b.read(resp, err)
}

func (b *browser) post(path string, form url.Values) page {
	b.f.t.Helper()
	resp, err := b.http.PostForm(b.f.srv.URL+path, form)
	return b.read(resp, err)
}

func (b *browser) read(resp *http.Response, err error) page {
	b.f.t.Helper()
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// login signs name in with code through the form, as a browser would.
func (b *browser) login(name, code string) page {
	b.f.t.Helper()
	form := b.get("/login")
	return b.post("/login", url.Values{"csrf": {csrfOf(b.f.t, form)}, "user": {name}, "code": {code}})
}

// signIn logs name in with their current code and fails unless it works.
func (b *browser) signIn(name string) {
	b.f.t.Helper()
	if p := b.login(name, b.f.code(name)); p.status != http.StatusSeeOther || p.header.Get("Location") != "/requests" {
		b.f.t.Fatalf("sign in %s: %d %q: %s", name, p.status, p.header.Get("Location"), errorOf(p))
	}
}

// list is the requests page, which must render.
func (b *browser) list() page {
	b.f.t.Helper()
	p := b.get("/requests")
	if p.status != http.StatusOK {
		b.f.t.Fatalf("GET /requests: %d %q", p.status, p.header.Get("Location"))
	}
	return p
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field in page (%d): %s", p.status, p.body)
	}
	return m[1]
}

var alert = regexp.MustCompile(`(?s)<p class="error" role="alert">(.*?)</p>`)

// errorOf is the error the page shows, "" if none.
func errorOf(p page) string {
	if m := alert.FindStringSubmatch(p.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// card is the markup of request id's card on the page, "" if absent.
func card(p page, id string) string {
	for _, part := range strings.Split(p.body, "<article")[1:] {
		if strings.Contains(part, `data-request="`+id+`"`) {
			return part[:strings.Index(part, "</article>")]
		}
	}
	return ""
}
