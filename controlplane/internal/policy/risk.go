package policy

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zpam/zpam/controlplane/internal/risk"
)

// riskSettings reads the top-level risk: section: weights per factor.
func (p *problems) riskSettings(n *yaml.Node, field string) map[string]int {
	var weights map[string]int
	p.eachField(n, field, fieldSet{
		"weights": func(v *yaml.Node, f string) { weights = p.riskWeights(v, f) },
	})
	return weights
}

func (p *problems) riskWeights(n *yaml.Node, field string) map[string]int {
	out := map[string]int{}
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "must be a mapping of factor name to weight, like {new_source_address: 40}")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], resolve(n.Content[i+1])
		name := join(field, key.Value)
		if _, known := risk.DefaultWeights[key.Value]; !known {
			p.add(key, name, "unknown risk factor; accepted: %s", strings.Join(risk.FactorNames(), ", "))
			continue
		}
		w := p.integer(value, name)
		if w < 0 || w > risk.MaxScore {
			p.add(value, name, "%d must be from 0 (off) to %d", w, risk.MaxScore)
		}
		out[key.Value] = w
	}
	return out
}

// roleRisk reads a role's risk: thresholds.
func (p *problems) roleRisk(n *yaml.Node, field string) RoleRisk {
	var r RoleRisk
	approvalsNode := n
	seen := p.eachField(n, field, fieldSet{
		"mfa_above":       func(v *yaml.Node, f string) { r.MFAAbove = p.threshold(v, f) },
		"approvals_above": func(v *yaml.Node, f string) { r.ApprovalsAbove = p.threshold(v, f) },
		"deny_above":      func(v *yaml.Node, f string) { r.DenyAbove = p.threshold(v, f) },
		"approvals": func(v *yaml.Node, f string) {
			approvalsNode, r.Approvals = v, p.approvals(v, f)
		},
	})
	switch {
	case r.ApprovalsAbove.Set && r.Approvals.Count == 0:
		p.add(n, join(field, "approvals"), "is required with approvals_above: the approvals a request above the threshold needs, like {count: 1, from: [\"@sec-leads\"]}")
	case seen["approvals"] && !r.ApprovalsAbove.Set:
		p.add(approvalsNode, join(field, "approvals"), "is used only with approvals_above; set approvals_above or remove it")
	}
	if r.DenyAbove.Set {
		for _, t := range []struct {
			name string
			th   Threshold
		}{{"mfa_above", r.MFAAbove}, {"approvals_above", r.ApprovalsAbove}} {
			if t.th.Set && t.th.Value >= r.DenyAbove.Value {
				p.add(n, join(field, t.name), "%d is not below deny_above %d, so it could never apply", t.th.Value, r.DenyAbove.Value)
			}
		}
	}
	return r
}

func (p *problems) threshold(n *yaml.Node, field string) Threshold {
	v := p.integer(n, field)
	if v < 0 || v >= risk.MaxScore {
		p.add(n, field, "%d must be from 0 to %d (a score above it applies)", v, risk.MaxScore-1)
	}
	return Threshold{Set: true, Value: v}
}

// riskDecision applies the role's thresholds to a decision d the role
// would otherwise give.
func (r *Role) riskDecision(d Decision, a risk.Assessment) Decision {
	rr := r.Risk
	switch {
	case rr.DenyAbove.Exceeded(a.Score):
		return Decision{Outcome: Deny, Role: r.Name, Risk: a,
			Reason: fmt.Sprintf("risk score %s is above deny_above %d of role %s", a, rr.DenyAbove.Value, r.Name)}
	case rr.ApprovalsAbove.Exceeded(a.Score):
		d.Outcome, d.ApprovalsNeeded, d.Approvers = NeedApprovals, rr.Approvals.Count, rr.Approvals.From
		d.ApprovalMFA, d.ApprovalTimeout = rr.Approvals.MFA, r.ApprovalTimeout
		d.RiskNote = fmt.Sprintf("risk score %s is above approvals_above %d", a, rr.ApprovalsAbove.Value)
		d.Reason = fmt.Sprintf("role %s needs %d approval(s): %s", r.Name, rr.Approvals.Count, d.RiskNote)
	}
	if rr.MFAAbove.Exceeded(a.Score) && !d.MFA {
		d.MFA = true
		note := fmt.Sprintf("a one-time code is required: risk score %d is above mfa_above %d", a.Score, rr.MFAAbove.Value)
		if d.RiskNote == "" {
			note = fmt.Sprintf("a one-time code is required: risk score %s is above mfa_above %d", a, rr.MFAAbove.Value)
		}
		d.Reason += "; " + note
		d.RiskNote = joinNotes(d.RiskNote, note)
	}
	return d
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
