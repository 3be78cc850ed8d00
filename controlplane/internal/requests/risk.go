package requests

import (
	"context"
	"time"

	"github.com/zpam/zpam/controlplane/internal/detect"
	"github.com/zpam/zpam/controlplane/internal/risk"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// riskySeverities are the findings that raise a person's later scores;
// info findings (a command new to them) are too common to.
var riskySeverities = []string{detect.Medium.String(), detect.High.String(), detect.Critical.String()}

// assess scores a request from the store's history of the person, with
// the weights of the policy in force.
// A non-nil past is the history already read for this request's call
// (a workload's request for a group of hosts).
func (s *Service) assess(tx *store.Tx, subj risk.Subject, user store.User, past *risk.History) (risk.Assessment, error) {
	var h risk.History
	if past != nil {
		h = *past
	} else {
		var err error
		if h, err = history(tx, subj.User, subj.Time); err != nil {
			return risk.Assessment{}, err
		}
	}
	h.OTPFailures = user.OTPFailures
	return risk.Score(h, subj, s.policy.Current().RiskWeights), nil
}

// history is what the store knows of user before now.
func history(tx *store.Tx, user string, now time.Time) (risk.History, error) {
	past, err := tx.RequestHistory(user, now.Add(-risk.Window), risk.HistoryLimit)
	if err != nil {
		return risk.History{}, err
	}
	var h risk.History
	for _, p := range past {
		h.Requests = append(h.Requests, risk.Past{HostID: p.HostID, SourceAddress: p.SourceAddress, Duration: p.Duration, At: p.CreatedAt, Granted: p.Granted})
	}
	h.Findings, err = tx.CountFindings(user, now.Add(-risk.FindingsWindow), riskySeverities)
	return h, err
}

func subjectOf(in Elevation, host store.Host, now time.Time) risk.Subject {
	return risk.Subject{
		User: in.User, HostID: host.ID, Hostname: host.Hostname, SourceAddress: in.Context.SourceAddress,
		TTY: in.Context.TTY, Workload: in.WorkloadID != "", Duration: in.Duration, Time: now,
	}
}

// RiskQuery is a request to score without filing it (policy test).
type RiskQuery struct {
	User string
	// Host is a hostname or host id; an unknown host scores as new.
	Host          string
	SourceAddress string
	TTY           bool
	Workload      bool
	Duration      time.Duration
	Time          time.Time
}

// AssessRisk scores q as RequestElevation would, creating nothing.
func (s *Service) AssessRisk(ctx context.Context, q RiskQuery) (risk.Assessment, error) {
	var a risk.Assessment
	err := s.store.View(ctx, func(tx *store.Tx) error {
		host, err := hostNamed(tx, q.Host)
		if err != nil {
			return err
		}
		user, _, err := lookupUser(tx, q.User)
		if err != nil {
			return err
		}
		subj := risk.Subject{User: q.User, HostID: host.ID, Hostname: host.Hostname, SourceAddress: q.SourceAddress,
			TTY: q.TTY, Workload: q.Workload, Duration: q.Duration, Time: q.Time}
		a, err = s.assess(tx, subj, user, nil)
		return err
	})
	return a, err
}

// hostNamed finds a host by id or hostname; one not found is described
// by the name alone (a host nobody has asked on yet).
func hostNamed(tx *store.Tx, name string) (store.Host, error) {
	hosts, err := tx.Hosts()
	if err != nil {
		return store.Host{}, err
	}
	for _, h := range hosts {
		if h.ID == name || h.Hostname == name {
			return h, nil
		}
	}
	return store.Host{ID: name, Hostname: name}, nil
}
