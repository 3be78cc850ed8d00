#!/bin/sh
# pam-agent prerm (deb: "remove" | "upgrade" …; rpm: 0 erase, 1 upgrade).
#
# Only on removal: stop the agent, then release enforcement with
# `pam-agent uninstall`. It runs here rather than in postrm because postrm
# runs after the binary is gone. Upgrades do nothing here: the pins must
# stay until the new agent has adopted them.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

# disable works without a running systemd (chroot); stop needs one.
systemctl disable pam-agent.service || true
if [ -d /run/systemd/system ]; then
	systemctl stop pam-agent.service || true
fi

# A failure here fails the removal on purpose: pins left without an agent
# would keep every escalation on this host denied with nobody to grant one.
if ! pam-agent uninstall; then
	echo "pam-agent: could not remove the kernel enforcement under /sys/fs/bpf/pam-agent; fix the error above and remove the package again" >&2
	exit 1
fi
exit 0
