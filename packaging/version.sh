#!/bin/sh
# Prints the package version for this checkout, derived from
# `git describe --tags --always`, in a form both dpkg and rpm order correctly:
#   v1.2.3            -> 1.2.3
#   v1.2.3-5-gabc1234 -> 1.2.3+git5.abc1234   (after 1.2.3)
#   abc1234 (no tag)  -> 0.0.0~git<N>.abc1234 (before any release; N = commit count)
#   v1.2.3-rc1        -> 1.2.3~rc1            (before 1.2.3)
# Neither format allows "-" in the upstream version (rpm forbids it, dpkg
# would read it as a revision), hence "+" and "~".
# Usage: version.sh [DESCRIBE COUNT]; without arguments it asks git.
set -eu

if [ $# -eq 2 ]; then
	describe=$1 count=$2
else
	describe=$(git describe --tags --always)
	count=$(git rev-list --count HEAD)
fi

case "$describe" in
*-*-g*)
	tag=${describe%-*-g*} rest=${describe#"$tag"-}
	echo "$(echo "${tag#v}" | tr - '~')+git${rest%%-*}.${rest#*-g}"
	;;
v[0-9]* | [0-9]*.*)
	echo "${describe#v}" | tr - '~'
	;;
*)
	echo "0.0.0~git${count}.${describe}"
	;;
esac
