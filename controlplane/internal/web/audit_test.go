package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var eventRow = regexp.MustCompile(`<li data-kind="([a-z_]+)" data-id="(\d+)">`)

// rows are the (kind, number) of the events on an audit page, in order.
func rows(p page) [][2]string {
	var out [][2]string
	for _, m := range eventRow.FindAllStringSubmatch(p.body, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

var olderLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">Older</a>`)

func TestAuditTrailFiltersAndPages(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for range 30 { // each request adds requested + pending_approval
		ids = append(ids, f.request("bob", "db-1"))
	}
	f.request("erin", "dev-1")
	b := f.browser()
	b.signIn("carol")

	first := b.get("/audit")
	if first.status != http.StatusOK || len(rows(first)) != 50 {
		t.Fatalf("first page: %d with %d events; want 50 of the 63", first.status, len(rows(first)))
	}
	if top := rows(first)[0]; top[0] != "login" {
		t.Fatalf("newest event %v; want carol's login first", top)
	}
	m := olderLink.FindStringSubmatch(first.body)
	if m == nil {
		t.Fatal("first page has no link to older events")
	}
	second := b.get(html.UnescapeString(m[1]))
	if got := rows(second); len(got) != 13 || got[0][1] != "13" || got[12][1] != "1" || olderLink.MatchString(second.body) {
		t.Fatalf("second page %v; want events 13 down to 1 and no older link", got)
	}

	for _, c := range []struct {
		query string
		n     int
		want  string
	}{
		{"?user=erin", 2, "dev-1"},
		{"?host=dev-1&kind=pending_approval", 1, "erin"},
		{"?kind=login", 1, "carol"},
		{"?user=bob&kind=requested", 30, ids[29][:8]},
	} {
		p := b.get("/audit" + c.query)
		if len(rows(p)) != c.n || !strings.Contains(p.body, c.want) {
			t.Errorf("/audit%s: %d events; want %d, mentioning %s", c.query, len(rows(p)), c.n, c.want)
		}
	}
	if p := b.get("/audit?kind=DROP%20TABLE"); p.status != http.StatusBadRequest || !strings.Contains(errorOf(p), `kind "DROP TABLE" is not an audit event kind`) {
		t.Fatalf("bad kind: %d %q", p.status, errorOf(p))
	}
}

func TestAuditTrailNeedsASession(t *testing.T) {
	f := newFixture(t)
	if p := f.browser().get("/audit"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
		t.Fatalf("GET /audit signed out: %d %q", p.status, p.header.Get("Location"))
	}
}
