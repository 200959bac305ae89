#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it through `executable_path`; Playwright's own
# browser download is never used, since this machine reaches only the package registries).
#
#   scripts/chromium.sh    install the `chromium` package when /usr/bin/chromium is missing (root, or
#                          passwordless sudo), then print the browser's path on stdout
#
# Idempotent; progress goes to stderr.
set -euo pipefail

NAME=chromium.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

browser=/usr/bin/chromium
if [ ! -x "$browser" ]; then
	command -v apt-get >/dev/null 2>&1 || die "Chromium is not installed and there is no apt-get to install it"
	log "installing Debian's chromium package (apt-get)"
	apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q)
	as_root "${apt[@]}" update >&2 || die "apt-get update failed"
	as_root "${apt[@]}" install --no-install-recommends chromium >&2 || die "apt-get install chromium failed"
	[ -x "$browser" ] || die "the chromium package installed no $browser"
fi
echo "$browser"
