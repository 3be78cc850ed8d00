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

func TestPostWithoutCSRFTokenIsRefused(t *testing.T) {
	f := newFixture(t)
	id := f.request("bob", "db-1")
	b := f.browser()
	b.signIn("carol")
	token := csrfOf(t, b.list())
	for name, form := range map[string]url.Values{
		"no token":    {"comment": {"ok"}},
		"wrong token": {"comment": {"ok"}, "csrf": {strings.Repeat("0", 64)}},
	} {
		if p := b.post("/requests/"+id+"/approve", form); p.status != http.StatusForbidden || !strings.Contains(errorOf(p), "CSRF") {
			t.Errorf("approve with %s: %d %q; want 403 naming the CSRF token", name, p.status, errorOf(p))
		}
	}
	if st := f.status(id); st != store.StatusPendingApproval {
		t.Fatalf("request is %s after refused posts; want still pending", st)
	}
	p := b.post("/requests/"+id+"/approve", url.Values{"csrf": {token}, "comment": {"looks right"}})
	if p.status != http.StatusSeeOther || f.status(id) != store.StatusGranted {
		t.Fatalf("approve with the session's token: %d %s, request %s; want granted", p.status, errorOf(p), f.status(id))
	}
	if list := b.get(p.header.Get("Location")); !strings.Contains(list.body, "Request "+id[:8]+" approved.") {
		t.Fatalf("no confirmation after approving:\n%s", list.body)
	}
}

func TestApproveShowsContextAndGrants(t *testing.T) {
	f := newFixture(t)
	id := f.request("bob", "db-1")
	b := f.browser()
	b.signIn("carol")
	c := card(b.list(), id)
	for _, want := range []string{"bob on db-1", "for 10m0s", "INC-7 rotate the disk", "/usr/bin/systemctl", "pts/3",
		"session 12", "192.0.2.7", "1 more of 1, from @sec-leads", `class="approve"`, `class="deny"`} {
		if !strings.Contains(c, want) {
			t.Errorf("pending card lacks %q:\n%s", want, c)
		}
	}
	b.post("/requests/"+id+"/approve", url.Values{"csrf": {csrfOf(t, b.list())}, "comment": {"go ahead"}})
	active := card(b.list(), id)
	if !strings.Contains(active, "10m0s left") || !strings.Contains(active, "Approved by</dt><dd>carol") || !strings.Contains(active, "Revoke") {
		t.Fatalf("active grant card:\n%s", active)
	}
	evs := f.audit(store.AuditQuery{Kind: requests.AuditApproved})
	if len(evs) != 1 || evs[0].Actor != "carol" || evs[0].Detail["channel"] != "console" || evs[0].Detail["comment"] != "go ahead" {
		t.Fatalf("approved events %+v; want carol's, with the comment, through the console", evs)
	}
}

func TestSelfApprovalIsRefused(t *testing.T) {
	f := newFixture(t)
	id := f.request("alice", "db-1") // alice is in sec-leads, but it is her request
	b := f.browser()
	b.signIn("alice")
	list := b.list()
	c := card(list, id)
	if strings.Contains(c, `class="approve"`) || !strings.Contains(c, "alice cannot approve their own request") {
		t.Fatalf("alice's own request shows:\n%s\nwant no approve button and the reason", c)
	}
	p := b.post("/requests/"+id+"/approve", url.Values{"csrf": {csrfOf(t, list)}})
	if p.status != http.StatusForbidden || errorOf(p) != "alice cannot approve their own request." || f.status(id) != store.StatusPendingApproval {
		t.Fatalf("forged self-approval: %d %q, request %s; want 403 with the core's reason, still pending", p.status, errorOf(p), f.status(id))
	}
}

func TestNonApproverHasNoButtonAndForgedPostIsRefused(t *testing.T) {
	f := newFixture(t)
	id := f.request("bob", "db-1")
	dave := f.browser()
	dave.signIn("dave")
	list := dave.list()
	c := card(list, id)
	if c == "" || strings.Contains(c, `class="approve"`) || strings.Contains(c, `class="deny"`) || !strings.Contains(c, "dave is not among the approvers") {
		t.Fatalf("dave (not a sec-lead) sees:\n%s\nwant the request without approve or deny", c)
	}
	token := csrfOf(t, list)
	for _, action := range []string{"approve", "deny"} {
		p := dave.post("/requests/"+id+"/"+action, url.Values{"csrf": {token}, "comment": {"forged"}})
		if p.status != http.StatusForbidden || !strings.Contains(errorOf(p), "not among the approvers") {
			t.Errorf("forged %s by dave: %d %q; want 403 from the core", action, p.status, errorOf(p))
		}
	}
	if st := f.status(id); st != store.StatusPendingApproval {
		t.Fatalf("request is %s; want still pending", st)
	}
	carol := f.browser()
	carol.signIn("carol")
	if c := card(carol.list(), id); !strings.Contains(c, `class="approve"`) {
		t.Fatalf("carol (a sec-lead) has no approve button:\n%s", c)
	}
}

func TestRequestWithoutApproversNeedsAnAdminCredential(t *testing.T) {
	f := newFixture(t)
	id := f.request("bob", "dev-1") // approvals: {count: 1}, no from
	b := f.browser()
	b.signIn("carol")
	list := b.list()
	if c := card(list, id); strings.Contains(c, `class="approve"`) || !strings.Contains(c, "only an admin credential may approve it") {
		t.Fatalf("a request naming no approvers shows:\n%s", c)
	}
	if p := b.post("/requests/"+id+"/approve", url.Values{"csrf": {csrfOf(t, list)}}); p.status != http.StatusForbidden {
		t.Fatalf("forged approval: %d; want 403", p.status)
	}
	// The admin API (no channel: an admin credential) still may.
	if _, err := f.core.Approve(t.Context(), "admin", id, ""); err != nil {
		t.Fatalf("admin approval: %v", err)
	}
}

func TestDenyNeedsAComment(t *testing.T) {
	f := newFixture(t)
	id := f.request("bob", "db-1")
	b := f.browser()
	b.signIn("carol")
	token := csrfOf(t, b.list())
	if p := b.post("/requests/"+id+"/deny", url.Values{"csrf": {token}, "comment": {"  "}}); p.status != http.StatusBadRequest || !strings.Contains(errorOf(p), "comment") {
		t.Fatalf("deny without a comment: %d %q; want 400 asking for one", p.status, errorOf(p))
	}
	if p := b.post("/requests/"+id+"/deny", url.Values{"csrf": {token}, "comment": {"not during the freeze"}}); p.status != http.StatusSeeOther {
		t.Fatalf("deny: %d %s", p.status, errorOf(p))
	}
	v, _ := f.core.Get(t.Context(), id)
	if v.Request.Status != store.StatusDenied || v.Request.StatusReason != "denied by carol: not during the freeze" {
		t.Fatalf("request %s (%s); want denied with carol's comment", v.Request.Status, v.Request.StatusReason)
	}
	if p := b.post("/requests/"+id+"/approve", url.Values{"csrf": {token}}); p.status != http.StatusConflict {
		t.Fatalf("approving a denied request: %d; want 409", p.status)
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	id := f.request("bob", "db-1")
	if _, err := f.core.Approve(t.Context(), "carol", id, ""); err != nil {
		t.Fatal(err)
	}
	dave := f.browser()
	dave.signIn("dave")
	list := dave.list()
	if c := card(list, id); strings.Contains(c, "Revoke</button>") {
		t.Fatalf("dave may not revoke bob's grant but sees:\n%s", c)
	}
	if p := dave.post("/requests/"+id+"/revoke", url.Values{"csrf": {csrfOf(t, list)}}); p.status != http.StatusForbidden || f.status(id) != store.StatusGranted {
		t.Fatalf("forged revoke by dave: %d, request %s; want 403, still granted", p.status, f.status(id))
	}
	carol := f.browser()
	carol.signIn("carol")
	p := carol.post("/requests/"+id+"/revoke", url.Values{"csrf": {csrfOf(t, carol.list())}, "comment": {"done early"}})
	if p.status != http.StatusSeeOther || f.status(id) != store.StatusRevoked {
		t.Fatalf("revoke by carol: %d %s, request %s", p.status, errorOf(p), f.status(id))
	}
	evs := f.audit(store.AuditQuery{Kind: requests.AuditRevoked})
	if len(evs) != 1 || evs[0].Actor != "carol" || evs[0].Detail["channel"] != "console" || evs[0].Detail["reason"] != "revoked by carol: done early" {
		t.Fatalf("revoked events %+v", evs)
	}
}

func TestApprovalWithApproverCode(t *testing.T) {
	f := newFixture(t)
	id := f.request("bob", "vault-1")
	b := f.browser()
	b.signIn("carol")
	c := card(b.list(), id)
	if !strings.Contains(c, "each with a one-time code") || !strings.Contains(c, `name="otp"`) || !strings.Contains(c, "Times out") {
		t.Fatalf("pending card does not ask for the approver's code:\n%s", c)
	}
	p := b.post("/requests/"+id+"/approve", url.Values{"csrf": {csrfOf(t, b.list())}, "comment": {"ok"}})
	if p.status == http.StatusSeeOther || !strings.Contains(errorOf(p), "one-time code") || f.status(id) != store.StatusPendingApproval {
		t.Fatalf("approve without a code: %d %q, request %s; want refused, still pending", p.status, errorOf(p), f.status(id))
	}
	f.clock.add(30 * time.Second) // the sign-in used this step's code
	p = b.post("/requests/"+id+"/approve", url.Values{"csrf": {csrfOf(t, b.list())}, "comment": {"ok"}, "otp": {f.code("carol")}})
	if p.status != http.StatusSeeOther || f.status(id) != store.StatusGranted {
		t.Fatalf("approve with carol's code: %d %q, request %s; want granted", p.status, errorOf(p), f.status(id))
	}
}
