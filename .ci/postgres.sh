#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, listening on 127.0.0.1 only.
#   eval "$(.ci/postgres.sh start)"   # exports TRINE_PG_DIR and TRINE_TEST_POSTGRES_URL
#   .ci/postgres.sh stop "$TRINE_PG_DIR"
#   .ci/postgres.sh install           # Debian's postgresql package, when initdb is missing
set -euo pipefail

find_bin() {  # initdb / pg_ctl / createdb: PATH first, then Debian's versioned directory
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
    local c
    for c in /usr/lib/postgresql/*/bin/"$1"; do [ -x "$c" ] && { echo "$c"; return; }; done
    return 1
}

as_db_user() {  # initdb refuses root: run the server as an unprivileged user
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "${1:-}" in
install)
    find_bin initdb >/dev/null && exit 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    ;;
start)
    initdb=$(find_bin initdb) || { echo "initdb not found: run $0 install" >&2; exit 1; }
    pg_ctl=$(find_bin pg_ctl)
    dir=${2:-$(mktemp -d /tmp/trine-pg.XXXXXX)}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres; chown postgres "$dir"; }
    chmod 700 "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_db_user "$initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_db_user "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    createdb=$(find_bin createdb)
    as_db_user "$createdb" -h 127.0.0.1 -p "$port" -U postgres trine_test
    echo "$port" >"$dir/port"
    echo "export TRINE_PG_DIR=$dir"
    echo "export TRINE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$port/trine_test"
    ;;
stop)
    dir=${2:?usage: $0 stop DIR}
    pg_ctl=$(find_bin pg_ctl)
    [ -d "$dir/data" ] && as_db_user "$pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start [DIR] | stop DIR | install" >&2; exit 2
    ;;
esac
