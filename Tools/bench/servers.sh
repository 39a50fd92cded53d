# Starting and stopping the servers under test; sourced by run.sh.
#
# start_<name> DATA_DIR LOG sets SERVER_PID and SERVER_PORT and returns once the server
# answers; stop_server ends that process (SIGTERM, then SIGKILL after 30 s). Every server
# binds 127.0.0.1 only, on ports free at start. Strata and SeaweedFS check every
# signature against ACCESS_KEY / SECRET_KEY, so both pay for SigV4; moto accepts any.

SERVER_PID=""
SERVER_PORT=""

# free_ports N: N TCP ports on 127.0.0.1 that nothing listens on now.
free_ports() {
    "$PYTHON" - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_http URL CODE SECONDS: until URL answers CODE (any code if CODE is "any"), while
# SERVER_PID lives.
wait_http() {
    local url="$1" want="$2" seconds="$3" code i
    for ((i = 0; i < seconds * 10; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || { log "the server exited during start-up"; return 1; }
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)
        if [[ "$want" == any && "$code" != 000 ]] || [[ "$code" == "$want" ]]; then return 0; fi
        sleep 0.1
    done
    log "$url did not answer $want within $seconds s"
    return 1
}

start_strata() {
    local data="$1" server_log="$2"
    SERVER_PORT=$(free_ports 1)
    # No STRATA_* setting from the caller's environment reaches the server under test.
    env $(compgen -e | grep '^STRATA_' | sed 's/^/-u /') \
        "$STRATA_BIN" serve --data "$data" --host 127.0.0.1 --port "$SERVER_PORT" \
        --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" $STRATA_ARGS >"$server_log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$SERVER_PORT/_strata/health/ready" 200 60
}

start_seaweedfs() {
    local data="$1" server_log="$2" m mg v vg f fg sg
    read -r SERVER_PORT m mg v vg f fg sg <<<"$(free_ports 8)"
    mkdir -p "$data"
    # One identity with every right: SeaweedFS then verifies signatures as strata does
    # (without an -s3.config it lets every request through unchecked).
    printf '{"identities": [{"name": "bench", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], %s}]}\n' \
        "$ACCESS_KEY" "$SECRET_KEY" '"actions": ["Admin", "Read", "List", "Tagging", "Write"]' >"$data/s3.json"
    # master, volume, filer and S3 gateway in one process; no telemetry, no side ports.
    "$WEED" server -dir="$data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$data/s3.json" \
        -master.port="$m" -master.port.grpc="$mg" -volume.port="$v" -volume.port.grpc="$vg" \
        -filer -filer.port="$f" -filer.port.grpc="$fg" \
        -s3 -s3.port="$SERVER_PORT" -s3.port.grpc="$sg" -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.telemetry=false -master.volumeSizeLimitMB=1024 -volume.max=0 -volume.preStopSeconds=0 \
        >"$server_log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$SERVER_PORT/" any 120
}

start_moto() {
    local data="$1" server_log="$2"
    SERVER_PORT=$(free_ports 1)
    # moto keeps objects in memory (and spools large ones to TMPDIR): point that at DATA.
    mkdir -p "$data"
    TMPDIR="$data" "$PYTHON" -m moto.server -H 127.0.0.1 -p "$SERVER_PORT" >"$server_log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$SERVER_PORT/" any 60
}

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# write_nginx_conf DIR PORT: DIR/nginx.conf, for nginx serving the files in DIR/www on
# 127.0.0.1:PORT the way a static file server is fastest (sendfile, no access log, a
# keep-alive connection for the whole run); its pid file, error log and temporary files
# go under DIR. POST /sink reads a body and throws it away: an upload ceiling for curl.
write_nginx_conf() {
    local dir="$1" port="$2"
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        location = /sink { client_max_body_size 0; return 200; }
    }
}
EOF
}
