# Shared by the service scripts (postgres.sh, chromium.sh): messages and running as root. Set NAME first.

log() { echo "$NAME: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# Installing Debian packages needs root: run as root, or through passwordless sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die "$NAME needs root to install its Debian package: run as root, or install the package yourself"
	fi
}
