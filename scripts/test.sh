#!/usr/bin/env bash
# Runs the whole test suite the way CI does, on a fresh Debian machine with Go.
#
# It starts a private redis-server on a free port for the suite (installing
# Debian's redis-server package when the binary is missing) so tests never
# touch a shared Redis, installs Debian's chromium for the playground's
# browser test and Debian's haproxy for the fleet test when they are
# missing, checks that generated code is up to date,
# vets, checks gofmt, and runs every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step prints a header with the time of day and, when the next step
# starts (or the script ends), how long it took: a newcomer sees where the
# suite is and what is slow.
SUITE_START=$SECONDS
STEP_NAME=
STEP_START=$SECONDS
took() { local s=$1; if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi; }
end_step() {
	if [ -n "$STEP_NAME" ]; then printf -- '--- %s: %s\n' "$STEP_NAME" "$(took $((SECONDS - STEP_START)))"; fi
	STEP_NAME=
}
step() {
	end_step
	STEP_NAME="$*"
	STEP_START=$SECONDS
	printf '\n==> %s %s\n' "$(date +%H:%M:%S)" "$*"
}
finish() {
	local rc=$?
	end_step
	if [ "$rc" -eq 0 ]; then
		printf '\n==> %s all steps passed in %s\n' "$(date +%H:%M:%S)" "$(took $((SECONDS - SUITE_START)))"
	else
		printf '\n==> %s FAILED (exit %d) after %s\n' "$(date +%H:%M:%S)" "$rc" "$(took $((SECONDS - SUITE_START)))" >&2
	fi
}
trap finish EXIT

# 1. A real Redis for the suite.
if ! command -v redis-server >/dev/null 2>&1; then
	step "installing redis-server (Debian package)"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

# 1b. Chromium for the playground's browser test (e2e/), driven by chromedp.
# Set CHROMIUM to use another Chromium or Chrome binary instead.
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
	step "installing chromium (Debian package) for the browser test"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# 1c. HAProxy for the fleet test (TestFleetBehindALoadBalancer: three server
# processes behind it). Set HAPROXY_BIN to use another haproxy binary.
# Debian installs it in /usr/sbin, which a non-root PATH may lack.
if [ -z "${HAPROXY_BIN:-}" ]; then
	HAPROXY_BIN="$(command -v haproxy || true)"
	if [ -z "$HAPROXY_BIN" ] && [ -x /usr/sbin/haproxy ]; then HAPROXY_BIN=/usr/sbin/haproxy; fi
	if [ -z "$HAPROXY_BIN" ]; then
		step "installing haproxy (Debian package) for the fleet test"
		if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy >/dev/null
		HAPROXY_BIN="$(command -v haproxy || echo /usr/sbin/haproxy)"
	fi
fi
export HAPROXY_BIN

REDIS_DIR="$(mktemp -d)"
# Ports are drawn below Linux's ephemeral range (32768 and up by default), so
# that no outgoing connection takes one between the check and the bind.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((23000 + RANDOM % 9700))
		# Nothing answers on a free port: the connection attempt fails.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port found" >&2; exit 1
}
REDIS_PIDS=()
cleanup() {
	if [ -n "${PG_STOP:-}" ]; then eval "$PG_STOP" >/dev/null 2>&1 || true; fi
	kill "${REDIS_PIDS[@]}" 2>/dev/null || true
	wait "${REDIS_PIDS[@]}" 2>/dev/null || true
	rm -rf "$REDIS_DIR"
}
trap 'rc=$?; cleanup; (exit $rc); finish' EXIT
# start_redis PICK ARGS...: starts redis-server with ARGS on a port the
# function PICK draws, in a directory of its own, and sets STARTED_PORT once
# it answers. A server that does not answer within 5 s (its port was taken
# after all) is stopped and started again on another port, up to 5 times.
start_redis() {
	local pick=$1 p pid
	shift
	for _ in 1 2 3 4 5; do
		p="$($pick)"
		mkdir -p "$REDIS_DIR/$p"
		redis-server --port "$p" --bind 127.0.0.1 --save "" --dir "$REDIS_DIR/$p" \
			--logfile "$REDIS_DIR/$p/redis.log" --daemonize no "$@" &
		pid=$!
		for _ in $(seq 1 50); do
			if redis-cli -p "$p" ping >/dev/null 2>&1; then
				REDIS_PIDS+=("$pid")
				STARTED_PORT=$p
				return
			fi
			sleep 0.1
		done
		echo "redis-server on port $p did not start; another port:" >&2
		tail -3 "$REDIS_DIR/$p/redis.log" >&2 || true
		kill "$pid" 2>/dev/null || true
	done
	echo "could not start redis-server" >&2
	exit 1
}
start_redis free_port --appendonly no
REDIS_PORT=$STARTED_PORT
export TEST_REDIS_ADDR="127.0.0.1:$REDIS_PORT"
export REDIS_SERVER_BIN="$(command -v redis-server)"
step "redis-server for the suite on $TEST_REDIS_ADDR"

# 1d. A Redis Cluster (3 masters, 3 replicas) for the tests of cluster-safe
# keys. A node's cluster bus listens on its port + 10000, so ports are drawn
# from 20000-22767 (buses 30000-32767, below the ephemeral range) and both
# must be free. A node that does not answer within 5 s (its port was taken
# after all) is started again on another. Tests that kill a master start
# their own (internal/redistest.StartCluster), and so does a test run
# without this one.
cluster_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 2768))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then
			echo "$p"; return
		fi
	done
	echo "no free port found" >&2; exit 1
}
CLUSTER_ADDRS=()
for _ in 1 2 3 4 5 6; do
	start_redis cluster_port --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000 \
		--appendonly yes --repl-diskless-sync-delay 0
	CLUSTER_ADDRS+=("127.0.0.1:$STARTED_PORT")
done
redis-cli --cluster create "${CLUSTER_ADDRS[@]}" --cluster-replicas 1 --cluster-yes >"$REDIS_DIR/cluster-create.log"
for _ in $(seq 1 100); do
	ok=1
	for a in "${CLUSTER_ADDRS[@]}"; do
		redis-cli -p "${a##*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
	done
	[ "$ok" = 1 ] && break
	sleep 0.1
done
if [ "$ok" != 1 ]; then echo "the Redis Cluster did not reach cluster_state:ok" >&2; exit 1; fi
export TEST_REDIS_CLUSTER_ADDRS="$(IFS=,; echo "${CLUSTER_ADDRS[*]}")"
step "Redis Cluster for the suite on $TEST_REDIS_CLUSTER_ADDRS"

# 1e. A private PostgreSQL for the customer database tests (sources/sqldb,
# internal/server): Debian's postgresql, installed when initdb is missing,
# started with initdb and pg_ctl on a free port, as the unprivileged user
# postgres when this script runs as root (PostgreSQL refuses to run as
# root). Never the machine's own server. Each test creates its own
# database in it; tests that stop or freeze PostgreSQL start their own.
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
	step "installing postgresql (Debian package) for the customer database tests"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
	PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
PG_DIR="$REDIS_DIR/postgres"
mkdir -p "$PG_DIR"
PG_AS=()
if [ "$(id -u)" -eq 0 ]; then
	PG_AS=(runuser -u postgres --)
	chmod 755 "$REDIS_DIR"
	chown postgres "$PG_DIR"
fi
"${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --no-sync -E UTF8 >"$REDIS_DIR/initdb.log"
PG_PORT="$(free_port)"
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/data/server.log" -w -t 30 \
	-o "-p $PG_PORT -k $PG_DIR/data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
PG_STOP="${PG_AS[*]} $PG_BIN/pg_ctl -D $PG_DIR/data -m immediate stop"
export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
step "PostgreSQL for the suite on 127.0.0.1:$PG_PORT"

# 2. Compile the module first, naming each package as it is compiled.
# gqlgen (next step) type-checks the module and go vet analyses every
# dependency: on an empty build cache they compiled everything themselves and
# printed nothing for almost 4 minutes (measured on 2 cores: go generate 2m21s,
# then go vet 1m35s). Compiled here first, visibly (2m11s, 535 packages), they
# take 18s and 47s; on a warm cache this step prints nothing and takes seconds.
step "go build -v ./... (one line per package compiled; about 2 minutes on an empty build cache)"
go build -v ./... 2>&1

# 3. Generated code must match the schema.
step "go generate ./... leaves no diff"
go generate ./...
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	if ! git diff --exit-code -- graph resolvers; then
		echo "generated code is stale: run 'go generate ./...' and commit the result" >&2
		exit 1
	fi
fi

# 4. Static checks.
step "go vet ./... (silent; under a minute on an empty build cache)"
go vet ./...
step "gofmt -l (lists any file gofmt would change)"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))"
if [ -n "$unformatted" ]; then
	printf 'gofmt would change these files (run gofmt -w on them):\n%s\n' "$unformatted" >&2
	exit 1
fi

# 5. Every test, with the race detector. Test servers also log to
# TEST_LOG_DIR, which step 7 scans for the test secrets.
export TEST_LOG_DIR="$(mktemp -d)"
TEST_OUTPUT="$TEST_LOG_DIR/go-test.out"
# Compiling every package with the race detector is the longest part: build
# the test binaries first, running no test, so that each package prints a
# line as soon as it is compiled. The run below reuses the build cache.
# go test prints packages in the order it is given them, so they are listed
# dependencies first: a package's line is not held back behind the root
# package, which needs every other one and runs longest. sed must not buffer
# (-u): writing into a pipe, it held every line until the step ended (133 s
# of silence with a warm cache, measured), which is what made this step mute.
PKGS="$(go list -deps -f '{{with .Module}}{{if .Main}}{{$.ImportPath}}{{end}}{{end}}' ./...)"
step "compile the tests with -race (one line per package; about 2 minutes the first time)"
go test -race -count=1 -run '^$' $PKGS 2>&1 | sed -u -e 's/ *\[no tests to run\]//' | tee "$TEST_OUTPUT"
step "go test -race ./... (one line per package as it finishes)"
go test -race -count=1 -timeout 20m -skip '^TestFaultSuite$' $PKGS 2>&1 | tee -a "$TEST_OUTPUT"

# 6. The fault suite, on its own so that its figures are printed.
step "fault suite (about 1 minute)"
go test -race -count=1 -timeout 10m -run '^TestFaultSuite$' -v ./internal/server/ 2>&1 | tee -a "$TEST_OUTPUT" | grep -E '^(fault suite:|--- |ok|FAIL|PASS)'

# 7. No secret used by the tests may appear in anything the suite logged.
step "scanning the suite's logs for secrets"
if [ -z "$(ls -A "$TEST_LOG_DIR")" ]; then
	echo "no test server logged anything to $TEST_LOG_DIR: the secrets scan would be empty" >&2
	exit 1
fi
if grep -rlF -f internal/server/testdata/secrets.txt "$TEST_LOG_DIR"; then
	echo "a test secret appears in the files above" >&2
	exit 1
fi
echo "no secret in $(ls "$TEST_LOG_DIR" | wc -l) log files"

# 8. Each fuzz target briefly, so that a regression in a parser shows up in CI.
# Budgets are execution counts, not durations: with a duration, Go 1.26's
# fuzzing coordinator can fail a target with a bare "context deadline
# exceeded" as the time runs out (golang/go#75804, fixed in Go 1.27). Counts
# are sized to about ten seconds each on this machine. FUZZ_SCALE multiplies
# them (e.g. FUZZ_SCALE=10 for a longer local run).
FUZZ_SCALE="${FUZZ_SCALE:-1}"
fuzz() {
	local n=$(($3 * FUZZ_SCALE))
	step "fuzz $2 (${n} executions)"
	go test -run '^$' -fuzz "^$2\$" -fuzztime "${n}x" "$1"
}
fuzz ./sources/phone/ FuzzNormalize 200000
fuzz ./sources/preview/ FuzzText 200000
fuzz ./sources/intercom/ FuzzSearchQueries 15000
fuzz ./internal/talkdesk/ FuzzDecodeEnvelope 200000
fuzz ./internal/graphqlhttp/ FuzzScanDocument 200000
fuzz ./internal/cost/ FuzzEstimate 20000
fuzz ./internal/callevents/ FuzzParse 100000
