package policy

import (
	"errors"
	"fmt"
	"os"
)

// DefaultFile is the policy init writes: it grants nothing to anyone
// automatically, and shows every field in comments.
const DefaultFile = `# ZPAM policy. pam-controlplane serve reloads this file when it changes and
# on SIGHUP; a file with an error is rejected (file:line is logged) and the
# previous policy stays in force.
#
# The first role, in file order, whose users and hosts match a request
# decides it. No matching role: denied.

# Groups usable as "@name" in users and approvals.from. People registered
# with "pam-controlplane user add NAME --groups a,b" are members too.
groups:
  admins: []
  # sec-leads: [carol, dave]

# Offline emergency access (pamctl break-glass), signed for each host and
# cached by its agent, usable while the control plane is unreachable:
# break_glass:
#   users: ["@admins"]       # groups are expanded when signing
#   hosts: {env: prod}       # omitted = all hosts
#   max_duration: 30m        # at most 4h
#   valid_for: 72h           # how long an agent may use its cached copy

# Risk: every request is scored 0-100 from this control plane's history of
# the person (pam-controlplane policy test shows the score). Factors and
# their default weights: no_history 15, new_source_address 25,
# unusual_hour 20, new_host 15, burst 20, no_tty 10, long_duration 10,
# recent_findings 30, otp_failures 10. A role's risk: thresholds, and
# risk.score / risk.factors in when:, decide with the score.
# risk:
#   weights: {new_source_address: 40, no_tty: 0}   # 0 turns a factor off

# Detection: rules run over every command executed under a grant as it
# arrives (argv heuristics: see the README). The built-in rules are
# printed by "pam-controlplane policy detections". Responses: flag (a
# finding for review), suspend (removed from the host until the person
# gives a fresh one-time code: pamctl elevate --resume ID), revoke,
# terminate (revoke and end the elevated processes).
# detections:
#   responses: {info: flag, low: flag, medium: suspend, high: revoke, critical: terminate}
#   disable: [novel-elevated-command]
#   overrides:
#     systemd-unit: {severity: low}
#   rules:
#     - name: curl-pipe-shell
#       description: a script from the network run as root
#       severity: high
#       commands: [sh, bash]
#       args: ['(curl|wget) .*[|] *(ba)?sh']

roles:
  # Safe default: admins may elevate anywhere for up to 1h, each request
  # approved by another admin (never by the requester).
  - name: admin-approved
    users: ["@admins"]
    max_duration: 1h
    approvals: {count: 1, from: ["@admins"]}

  # Every field, commented:
  # - name: prod-oncall                 # unique; shown to people and in audit
  #   users: [alice, bob, "@oncall"]    # unix user names, "@group", or "*" for everyone
  #   hosts: {env: prod}                # label selector; omitted = all hosts
  #   max_duration: 1h                  # required; requests for longer are denied
  #   auto_approve: false               # true: granted at once (no approvers)
  #   mfa: true                         # the requester must give a current TOTP code
  #   approvals: {count: 1, from: ["@sec-leads"], mfa: true}
  #       # N approvers; from empty = any admin; mfa: each approver gives a TOTP code
  #   approval_timeout: 30m             # a request nobody decides in time is TIMED_OUT (default 1h)
  #   hours: "Mon-Fri 07:00-20:00 UTC"  # [days] HH:MM-HH:MM zone (IANA, e.g. Europe/Berlin)
  #   when: 'request.tty && request.reason.size() > 10'
  #       # CEL over request.user, request.host (labels map), request.duration
  #       # (seconds), request.reason, request.tty, request.source_address,
  #       # request.time (timestamp), risk.score (0-100), risk.factors (names)
  #   scope: session                    # default; "user": every session of the user
  #   record: true                      # only recorded shells (pamctl elevate --shell)
  #   risk:                             # what the request's risk score changes ("above" = greater than)
  #     mfa_above: 30                   # a one-time code is required
  #     approvals_above: 60             # these approvals are required instead:
  #     approvals: {count: 1, from: ["@sec-leads"]}
  #     deny_above: 90                  # denied
  #   commands: [/usr/bin/systemctl, /usr/bin/journalctl]
  #       # scoped grants: the only programs that may run as root under the grant
  #       # (enforced in the kernel by file identity); a request may name a subset
  #   terminate_on_end: true            # when a grant ends (expiry, revocation), its host
  #       # ends every process elevated under it (pamctl revoke --terminate does it once)
  #
  # - name: ci-deploy                   # for workloads (SPIFFE-ID certificates) only
  #   workloads: ["spiffe://example.org/ci/*"]   # globs; * stays within one path segment
  #   users: [deploy]                   # the service accounts they may ask for
  #   hosts: {env: prod}
  #   max_duration: 10m
  #   auto_approve: true
  #
  # - name: dev-self-service
  #   users: ["*"]
  #   hosts: {env: dev}
  #   max_duration: 30m
  #   auto_approve: true
`

// WriteDefault writes DefaultFile to path unless a file is there. It
// reports whether it created the file.
func WriteDefault(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(DefaultFile); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, f.Close()
}
