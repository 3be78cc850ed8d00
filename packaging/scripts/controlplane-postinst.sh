#!/bin/sh
# pam-controlplane postinst (deb: "configure" [old-version]; rpm: 1 install, 2 upgrade).
#
# First install: enable and start. The unit's ExecStartPre runs the
# idempotent `pam-controlplane init`, so the first start creates the CA and
# policy.yaml in /var/lib/pam-controlplane; it listens on loopback until
# /etc/pam-controlplane/pam-controlplane.env says otherwise. Upgrade: restart
# if running. A failed start is reported, not fatal to the installation.
set -e

case "$1" in
configure) if [ -z "$2" ]; then first=yes; else first=no; fi ;;
1) first=yes ;;
2) first=no ;;
*) exit 0 ;;
esac

# Works without a running systemd, so chroot-built images boot with it enabled.
if [ "$first" = yes ]; then
	systemctl enable pam-controlplane.service || true
fi
[ -d /run/systemd/system ] || exit 0
systemctl daemon-reload || true

if [ "$first" = yes ]; then
	action=start
else
	action=try-restart
fi
systemctl "$action" pam-controlplane.service ||
	echo "pam-controlplane: installed but failed to $action; see: journalctl -u pam-controlplane" >&2
exit 0
