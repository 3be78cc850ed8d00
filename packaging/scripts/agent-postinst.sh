#!/bin/sh
# pam-agent postinst (deb: "configure" [old-version]; rpm: 1 install, 2 upgrade).
#
# First install: enable the unit, and start it only when agent.yaml names a
# server. A fresh install is usually not configured yet, and that must not
# fail the package installation: the admin sets server and join_token, then
# starts it (configuration management may have placed agent.yaml first).
# Upgrade: restart the agent if it is running, and leave an admin's
# disable/stop alone. The new agent re-adopts the pins in
# /sys/fs/bpf/pam-agent, which stay in place while it restarts, so there is
# no window without enforcement.
set -e

case "$1" in
configure) if [ -z "$2" ]; then first=yes; else first=no; fi ;;
1) first=yes ;;
2) first=no ;;
*) exit 0 ;;
esac

# Enabling works without a running systemd (it only writes symlinks), so an
# image built in a chroot boots with the agent enabled.
if [ "$first" = yes ]; then
	systemctl enable pam-agent.service || true
fi
# Starting needs a booted systemd (not a chroot or a container build).
[ -d /run/systemd/system ] || exit 0
systemctl daemon-reload || true

if [ "$first" = no ]; then
	systemctl try-restart pam-agent.service ||
		echo "pam-agent: upgraded but failed to restart; see: journalctl -u pam-agent" >&2
elif grep -Eq '^[[:space:]]*server:[[:space:]]*[^[:space:]#]' /etc/pam-agent/agent.yaml 2>/dev/null; then
	systemctl start pam-agent.service ||
		echo "pam-agent: installed but failed to start; see: journalctl -u pam-agent" >&2
else
	echo "pam-agent: installed and enabled; set server and join_token in /etc/pam-agent/agent.yaml, then: systemctl start pam-agent" >&2
fi
exit 0
