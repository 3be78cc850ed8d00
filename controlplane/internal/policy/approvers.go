package policy

// Approver reports whether name may approve the requests of some role:
// the people who see the fleet's audit trail with their own credential.
// A role whose approvals name nobody leaves approving to admin
// credentials, so it makes no person an approver.
func (p *Policy) Approver(name string, registered []string) bool {
	for _, r := range p.Roles {
		if r.Approvals.Count > 0 && p.Matches(r.Approvals.From, name, registered) {
			return true
		}
	}
	return false
}
