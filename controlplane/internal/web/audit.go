package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// auditPageSize is the events shown per page.
const auditPageSize = 50

// auditKinds are offered in the kind filter; other kinds (from newer
// parts of the control plane) can still be typed.
var auditKinds = []string{
	requests.AuditRequested, requests.AuditPending, requests.AuditApproved, requests.AuditGranted,
	requests.AuditDenied, requests.AuditCanceled, requests.AuditRevoked, requests.AuditExpired,
	requests.AuditLogin, requests.AuditLoginFailed, requests.AuditLogout,
}

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

func invalidf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalid)...)
}

// auditPage lists the control plane's audit events, newest first,
// filtered by user (as subject or actor), host and kind, a page at a time.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, sess session) {
	q, err := auditQueryOf(r.URL.Query())
	if err != nil {
		c.renderError(w, r, &sess, failureOf(err))
		return
	}
	entries, err := c.cfg.Core.AuditTrail(r.Context(), q)
	if err != nil {
		c.renderError(w, r, &sess, failureOf(err))
		return
	}
	v := auditView{pageView: c.page(sess, "Audit trail", "", ""), FilterUser: q.User, FilterHost: q.Host, FilterKind: q.Kind, Kinds: auditKinds}
	for _, e := range entries {
		v.Events = append(v.Events, eventOf(e))
	}
	if len(entries) == q.Limit {
		v.Older = olderLink(q, entries[len(entries)-1].ID)
	}
	if q.BeforeID > 0 {
		v.Newest = olderLink(q, 0)
	}
	c.render(w, r, http.StatusOK, "audit", v)
}

func auditQueryOf(form url.Values) (store.AuditQuery, error) {
	q := store.AuditQuery{User: strings.TrimSpace(form.Get("user")), Host: strings.TrimSpace(form.Get("host")),
		Kind: form.Get("kind"), Limit: auditPageSize}
	if q.Kind != "" && !kindPattern.MatchString(q.Kind) {
		return q, invalidf("kind %q is not an audit event kind; kinds are lowercase words like %s", q.Kind, strings.Join(auditKinds, ", "))
	}
	if b := form.Get("before"); b != "" {
		id, err := strconv.ParseInt(b, 10, 64)
		if err != nil || id <= 0 {
			return q, invalidf("before %q is not an event number", b)
		}
		q.BeforeID = id
	}
	return q, nil
}

// olderLink is the page of events before lastID (0: the newest page)
// under q's filters.
func olderLink(q store.AuditQuery, lastID int64) string {
	v := url.Values{}
	if lastID > 0 {
		v.Set("before", strconv.FormatInt(lastID, 10))
	}
	for k, s := range map[string]string{"user": q.User, "host": q.Host, "kind": q.Kind} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return "/audit?" + v.Encode()
}

func eventOf(e store.AuditEntry) eventView {
	host := e.Hostname
	if host == "" {
		host = e.HostID
	}
	return eventView{ID: e.ID, At: e.At, Kind: e.Kind, Actor: e.Actor, User: e.User, Host: host,
		Request: e.RequestID, Short: shortID(e.RequestID), Detail: detailText(e.Detail)}
}

// detailText renders an event's detail as sorted key=value pairs.
func detailText(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k, v := range d {
		if v == nil || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, d[k]))
	}
	return strings.Join(parts, " ")
}
