#!/usr/bin/env bash
# Asks the API what an agent's dashboard asks when the phone rings, with curl:
# who is calling (caller lookup), then the caller's dashboard (contact and
# companies). Start the server first (`go run .` serves the demo workspace).
#
# Usage: examples/curl.sh [phone]        default phone: (415) 555-0142
#        GRAPHQL_URL=http://host:8080/graphql examples/curl.sh
set -euo pipefail

url="${GRAPHQL_URL:-http://localhost:8080/graphql}"
phone="${1:-(415) 555-0142}"

# json_string prints its argument as a JSON string literal.
json_string() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/\\t}
	s=${s//$'\n'/\\n}
	printf '"%s"' "$s"
}

# pretty prints JSON indented when python3 is there, as it came otherwise.
pretty() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -m json.tool
	else
		cat
		echo
	fi
}

# graphql QUERY VARIABLES-JSON: POSTs one operation, as any GraphQL client does.
graphql() {
	curl --silent --show-error --fail-with-body "$url" \
		-H 'Content-Type: application/json' \
		-H 'Accept: application/graphql-response+json' \
		--data-binary "{\"query\": $(json_string "$1"), \"variables\": $2}"
}

variables="{\"phone\": $(json_string "$phone"), \"defaultCountry\": \"US\"}"

echo "== Caller lookup: who is calling from $phone?"
graphql '
query CallerLookup($phone: String!, $defaultCountry: String) {
  contactsByPhone(phone: $phone, defaultCountry: $defaultCountry) {
    id name email phone
  }
}' "$variables" | pretty

echo
echo "== Agent dashboard: the caller and their companies"
graphql '
query AgentDashboard($phone: String!, $defaultCountry: String) {
  contactsByPhone(phone: $phone, defaultCountry: $defaultCountry) {
    id name title email phones address url
    companies { name website industry size plan }
  }
}' "$variables" | pretty
