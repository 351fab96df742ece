#!/usr/bin/env bash
# Refreshes the vendored GraphiQL browser build that the playground serves.
#
# The playground must work on a machine without internet access, so its
# assets are committed here and embedded in the binary; nothing is loaded from
# a CDN. This script is the only way they change: it fetches exact versions of
# the npm packages with `npm pack` (which checks the registry's integrity
# hashes), copies the few minified files the page needs and the packages'
# LICENSE files, and records where every file came from in SOURCES.txt (which
# playground's tests check against the files).
#
# GraphiQL 3 is the last major version with a self-contained UMD build
# (graphiql.min.js and graphiql.min.css, fonts inlined) that runs on React 18's
# UMD builds; React 19 ships no UMD build. To upgrade, change the versions
# below, run this script, then `go test ./internal/playground/ ./e2e/`.
#
# Usage: internal/playground/assets/update.sh   (needs npm and the registry)
set -euo pipefail
cd "$(dirname "$0")"

GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1
# graphql-ws 5 is the last major version with a UMD build (the global
# graphqlWs): GraphiQL's fetcher takes its client for subscriptions.
GRAPHQL_WS_VERSION=5.16.2

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# package@version  file-in-package  file-here
files=(
	"graphiql@$GRAPHIQL_VERSION   graphiql.min.js                    graphiql.min.js"
	"graphiql@$GRAPHIQL_VERSION   graphiql.min.css                   graphiql.min.css"
	"react@$REACT_VERSION         umd/react.production.min.js        react.production.min.js"
	"react-dom@$REACT_VERSION     umd/react-dom.production.min.js    react-dom.production.min.js"
	"graphql-ws@$GRAPHQL_WS_VERSION  umd/graphql-ws.min.js          graphql-ws.min.js"
)

fetch() { # package@version -> directory with the unpacked package
	local spec=$1 dir="$tmp/${1//[@\/]/_}"
	if [ ! -d "$dir" ]; then
		mkdir -p "$dir"
		(cd "$dir" && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
	fi
	echo "$dir/package"
}

sources="SOURCES.txt.new"
{
	echo "# Vendored browser files of the playground: written by update.sh, checked by the tests."
	echo "# file  sha256  package@version/path  license"
} >"$sources"
for line in "${files[@]}"; do
	read -r spec from to <<<"$line"
	pkg="$(fetch "$spec")"
	cp "$pkg/$from" "$to"
	license="$(node -p "require('$pkg/package.json').license")"
	printf '%s  %s  %s/%s  %s\n' "$to" "$(sha256sum "$to" | cut -d' ' -f1)" "$spec" "$from" "$license" >>"$sources"
	name="${spec%@*}"
	cp "$pkg"/LICENSE* "licenses/$name.LICENSE"
done
mv "$sources" SOURCES.txt

# graphiql.min.js bundles its own dependencies (@graphiql/react,
# @graphiql/toolkit, graphql, codemirror 5, markdown-it, ...): list their
# licenses as npm resolves them for this version.
(cd "$tmp" && npm init -y >/dev/null && npm install --silent --ignore-scripts --no-audit --no-fund \
	"graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" "graphql@16" >/dev/null)
{
	echo "Packages bundled in graphiql.min.js $GRAPHIQL_VERSION (its dependency tree as npm resolves it; name@version license):"
	(cd "$tmp" && node -e '
		const fs = require("fs"), path = require("path");
		const seen = new Set(), out = [];
		(function walk(dir) {
			for (const name of fs.readdirSync(dir)) {
				if (name.startsWith(".") || name === "@types") continue; // type declarations are not bundled
				const p = path.join(dir, name);
				if (name.startsWith("@")) { walk(p); continue; }
				const pj = path.join(p, "package.json");
				if (!fs.existsSync(pj)) continue;
				const m = JSON.parse(fs.readFileSync(pj));
				const id = m.name + "@" + m.version;
				if (!seen.has(id)) { seen.add(id); out.push(id + " " + (m.license || "UNKNOWN")); }
				const nested = path.join(p, "node_modules");
				if (fs.existsSync(nested)) walk(nested);
			}
		})("node_modules");
		console.log(out.sort().join("\n"));
	')
} >licenses/THIRD_PARTY.txt

ls -l graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js
echo "updated: graphiql $GRAPHIQL_VERSION, react and react-dom $REACT_VERSION (see SOURCES.txt)"
