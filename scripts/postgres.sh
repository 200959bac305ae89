#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: no Docker, no systemd, no Debian cluster service.
#
#   scripts/postgres.sh start DIR PORT   initdb a cluster in DIR (once), start it on 127.0.0.1:PORT with its
#                                        socket in DIR, wait until it accepts connections, and print the
#                                        connection environment (`export POSTGRES_...=...` lines) on stdout
#   scripts/postgres.sh stop DIR         stop the server of DIR, if it runs (DIR itself is left for the caller)
#
# Both are idempotent: `start` on a running cluster only prints its environment again, `stop` on a stopped
# one does nothing. When Debian's server binaries (/usr/lib/postgresql/*/bin) are missing, `start` installs
# the `postgresql` package first (root, or passwordless sudo). Progress goes to stderr.
# Authentication is `trust`, on the socket and on 127.0.0.1 only; durability is off (fsync): test data only.
set -euo pipefail

NAME=postgres.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 start DIR PORT | $0 stop DIR" >&2
	exit 2
}

# The bin directory of the newest PostgreSQL installed by Debian's packages, or nothing.
find_bindir() {
	local dir
	for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n -r); do
		if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && [ -x "$dir/pg_isready" ]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

install_postgres() {
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get to install it"
	log "installing Debian's postgresql package (apt-get)"
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q)
	as_root "${apt[@]}" update >&2 || die "apt-get update failed"
	# postgresql-common first, told not to create (and start) the Debian 'main' cluster that the server
	# package would otherwise set up on port 5432: the tests only use clusters made by this script.
	as_root "${apt[@]}" install --no-install-recommends postgresql-common >&2 ||
		die "apt-get install postgresql-common failed"
	local conf=/etc/postgresql-common/createcluster.conf
	if [ -f "$conf" ] && ! grep -q '^create_main_cluster' "$conf"; then
		as_root sed -i 's/^#\?\s*create_main_cluster.*$/create_main_cluster = false/' "$conf"
	fi
	as_root "${apt[@]}" install --no-install-recommends postgresql >&2 || die "apt-get install postgresql failed"
}

# Runs a command as the server's owner: the PostgreSQL server refuses to run as root, so root hands
# the cluster to the `postgres` user (created by the package); anyone else owns their cluster.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# The port a running cluster listens on, from line 4 of its postmaster.pid.
running_port() { sed -n 4p "$1/postmaster.pid" 2>/dev/null; }

print_env() {
	cat <<EOF
export POSTGRES_HOST=127.0.0.1
export POSTGRES_PORT=$1
export POSTGRES_USER=postgres
export POSTGRES_PASSWORD=
export POSTGRES_DB=postgres
export POSTGRES_SOCKET_DIR=$2
EOF
}

start() {
	local dir=$1 port=$2
	[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "PORT must be a TCP port, not '$port'"
	local bindir
	if ! bindir=$(find_bindir); then
		install_postgres
		bindir=$(find_bindir) || die "the postgresql package installed no server under /usr/lib/postgresql/*/bin"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "there is no 'postgres' user to run the server as (it comes with Debian's postgresql package)"
	fi

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	local data=$dir/data logfile=$dir/postgres.log
	# Unix socket paths are limited to 107 bytes: $dir/.s.PGSQL.$port must fit.
	[ ${#dir} -le 90 ] || die "DIR is too long for a Unix socket path (${#dir} > 90 characters): $dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
		chmod 0700 "$dir"
		as_owner test -w "$dir" -a -x "$dir" ||
			die "the postgres user cannot reach $dir: choose a DIR whose parents it can traverse (e.g. under /tmp)"
	fi

	if [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		local running
		running=$(running_port "$data")
		[ "$running" = "$port" ] || die "the cluster in $dir already runs on port $running, not $port"
		log "already running on port $port ($dir)"
	else
		if [ ! -f "$data/PG_VERSION" ]; then
			log "initdb $data ($("$bindir/postgres" --version))"
			as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync \
				>"$dir/initdb.log" 2>&1 || {
				cat "$dir/initdb.log" >&2
				die "initdb failed"
			}
			# Trust on the socket and on 127.0.0.1 only; the server listens on nothing else either.
			as_owner tee "$data/pg_hba.conf" >/dev/null <<EOF
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
			as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# scripts/postgres.sh: a throwaway test server.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
EOF
		fi
		log "starting on 127.0.0.1:$port ($dir)"
		if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$logfile" -o "-p $port" -w -t 60 start >&2; then
			tail -n 30 "$logfile" >&2 || true
			die "the server did not start (log: $logfile)"
		fi
	fi

	local i
	for i in $(seq 1 120); do
		if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U postgres; then
			print_env "$port" "$dir"
			return 0
		fi
		sleep 0.5
	done
	tail -n 30 "$logfile" >&2 || true
	die "the server in $dir does not accept connections on 127.0.0.1:$port"
}

stop() {
	local dir=$1
	local data=$dir/data
	if [ ! -f "$data/postmaster.pid" ]; then
		log "not running ($dir)"
		return 0
	fi
	local bindir
	bindir=$(find_bindir) || die "no PostgreSQL under /usr/lib/postgresql/*/bin to stop $dir with"
	if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2
	else
		log "not running ($dir)"
	fi
}

case "${1:-}" in
start)
	[ $# -eq 3 ] || usage
	start "$2" "$3"
	;;
stop)
	[ $# -eq 2 ] || usage
	stop "$2"
	;;
*) usage ;;
esac
