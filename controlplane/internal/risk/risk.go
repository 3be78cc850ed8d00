// Package risk scores an elevation request before it is decided, from
// the control plane's own history of the person: where they usually ask
// from, when, on which hosts, how often and for how long, and what their
// earlier grants set off. Each factor has a name, a weight and a reason a
// person can read; the score is the sum of the weights that apply, at
// most 100. Policy decides with it (a role's risk thresholds, and
// risk.score / risk.factors in CEL conditions).
//
// Scoring is a pure function of a History, which the request core reads
// from the store, so every factor is unit tested without a database.
package risk

import (
	"fmt"
	"strings"
)

// MaxScore caps the sum of the weights.
const MaxScore = 100

// Factor is one reason a request is riskier than the person's usual.
type Factor struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Reason string `json:"reason"`
}

// Assessment is a request's score and the factors that make it.
type Assessment struct {
	Score   int      `json:"score"`
	Factors []Factor `json:"factors"`
}

// Names lists the factors' names, for CEL's risk.factors.
func (a Assessment) Names() []string {
	out := make([]string, 0, len(a.Factors))
	for _, f := range a.Factors {
		out = append(out, f.Name)
	}
	return out
}

// Has reports whether factor name applies.
func (a Assessment) Has(name string) bool {
	for _, f := range a.Factors {
		if f.Name == name {
			return true
		}
	}
	return false
}

// String is the score and its reasons in one line, for decisions and
// audit details: "45 (new source address 10.0.0.9 +25; unusual hour +20)".
func (a Assessment) String() string {
	if len(a.Factors) == 0 {
		return fmt.Sprintf("%d (nothing unusual)", a.Score)
	}
	parts := make([]string, 0, len(a.Factors))
	for _, f := range a.Factors {
		parts = append(parts, fmt.Sprintf("%s +%d", f.Reason, f.Weight))
	}
	return fmt.Sprintf("%d (%s)", a.Score, strings.Join(parts, "; "))
}
