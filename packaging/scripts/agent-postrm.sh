#!/bin/sh
# pam-agent postrm (deb: "remove" | "purge" | "upgrade" …; rpm: 0 erase, 1 upgrade).
#
# Purge (deb only; rpm has none) deletes the identity, grant cache and spool.
# Never touches the pins: prerm released them on removal, and on upgrade they
# must stay.
set -e

case "$1" in
purge)
	rm -rf /var/lib/pam-agent
	;;
esac

case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	;;
esac
exit 0
