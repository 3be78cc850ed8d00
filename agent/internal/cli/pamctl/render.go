package pamctl

import (
	"fmt"
	"strings"
	"time"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// timeLayout is how times are shown to people: always UTC.
const timeLayout = "2006-01-02 15:04:05 UTC"

func humanTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// left is the whole seconds from now to t, never negative.
func left(t, now time.Time) time.Duration {
	return max(t.Sub(now).Truncate(time.Second), 0)
}

func statusName(s commonv1.RequestStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "REQUEST_STATUS_"))
}

func scopeName(s commonv1.GrantScope) string {
	if s == commonv1.GrantScope_GRANT_SCOPE_USER {
		return "user"
	}
	return "session"
}

// grantLine is "grant <id> active until <time> (<left> left), scope <scope>".
func grantLine(g *commonv1.Grant, now time.Time) string {
	exp := g.GetExpiresAt().AsTime()
	return fmt.Sprintf("grant %s active until %s (%s left), scope %s", g.GetId(), humanTime(exp), left(exp, now), scopeName(g.GetScope()))
}

// grantJSON is a grant in --json output.
type grantJSON struct {
	ID          string   `json:"id"`
	RequestID   string   `json:"request_id"`
	Scope       string   `json:"scope"`
	SessionID   uint32   `json:"session_id"`
	Role        string   `json:"role"`
	GrantedAt   *string  `json:"granted_at"`
	ExpiresAt   string   `json:"expires_at"`
	SecondsLeft int64    `json:"seconds_left"`
	Approvers   []string `json:"approvers"`
}

func toGrantJSON(g *commonv1.Grant, now time.Time) *grantJSON {
	if g == nil {
		return nil
	}
	exp := g.GetExpiresAt().AsTime()
	out := &grantJSON{
		ID: g.GetId(), RequestID: g.GetRequestId(), Scope: scopeName(g.GetScope()), SessionID: g.GetSessionId(),
		Role: g.GetRole(), ExpiresAt: rfc3339(exp), SecondsLeft: int64(left(exp, now).Seconds()), Approvers: nonNil(g.GetApprovers()),
	}
	if g.GetGrantedAt() != nil {
		s := rfc3339(g.GetGrantedAt().AsTime())
		out.GrantedAt = &s
	}
	return out
}

// nonNil keeps JSON lists as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
