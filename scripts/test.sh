#!/usr/bin/env bash
# Runs the whole test suite the way CI does, on a fresh Debian machine with Go.
#
# It starts a private redis-server on a free port for the suite (installing
# Debian's redis-server package when the binary is missing) so tests never
# touch a shared Redis, installs Debian's chromium for the playground's
# browser test when it is missing, checks that generated code is up to date,
# vets, and runs every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

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

REDIS_DIR="$(mktemp -d)"
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		# Nothing answers on a free port: the connection attempt fails.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port found" >&2; exit 1
}
REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
	--dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" --daemonize no &
REDIS_PID=$!
cleanup() { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; rm -rf "$REDIS_DIR"; }
trap cleanup EXIT
for _ in $(seq 1 50); do
	redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done
export TEST_REDIS_ADDR="127.0.0.1:$REDIS_PORT"
export REDIS_SERVER_BIN="$(command -v redis-server)"
step "redis-server for the suite on $TEST_REDIS_ADDR"

# 2. Generated code must match the schema.
step "go generate ./... leaves no diff"
go generate ./...
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	if ! git diff --exit-code -- graph resolvers; then
		echo "generated code is stale: run 'go generate ./...' and commit the result" >&2
		exit 1
	fi
fi

# 3. Static checks.
step "go vet ./..."
go vet ./...

# 4. Every test, with the race detector. Test servers also log to
# TEST_LOG_DIR, which step 6 scans for the test secrets.
export TEST_LOG_DIR="$(mktemp -d)"
TEST_OUTPUT="$TEST_LOG_DIR/go-test.out"
step "go test -race ./..."
go test -race -count=1 -timeout 20m -skip '^TestFaultSuite$' ./... 2>&1 | tee "$TEST_OUTPUT"

# 5. The fault suite, on its own so that its figures are printed.
step "fault suite"
go test -race -count=1 -timeout 10m -run '^TestFaultSuite$' -v . 2>&1 | tee -a "$TEST_OUTPUT" | grep -E '^(fault suite:|--- |ok|FAIL|PASS)'

# 6. No secret used by the tests may appear in anything the suite logged.
step "scanning the suite's logs for secrets"
if [ -z "$(ls -A "$TEST_LOG_DIR")" ]; then
	echo "no test server logged anything to $TEST_LOG_DIR: the secrets scan would be empty" >&2
	exit 1
fi
if grep -rlF -f testdata/secrets.txt "$TEST_LOG_DIR"; then
	echo "a test secret appears in the files above" >&2
	exit 1
fi
echo "no secret in $(ls "$TEST_LOG_DIR" | wc -l) log files"

# 7. Each fuzz target briefly, so that a regression in a parser shows up in CI.
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
fuzz ./internal/phone/ FuzzNormalize 200000
fuzz ./internal/preview/ FuzzText 200000
fuzz ./sources/intercom/ FuzzSearchQueries 15000
fuzz ./internal/talkdesk/ FuzzDecodeEnvelope 200000
fuzz ./internal/graphqlhttp/ FuzzScanDocument 200000
fuzz ./internal/cost/ FuzzEstimate 20000
