#!/usr/bin/env bash
# End-to-end test of the packaged extension in a real VS Code: code-server (VS Code for the browser, from npm)
# serves the workbench to Debian's Chromium, which playwright-core drives.
#
# Installs what it needs at run time into a cache outside the repository (GHOSTLINE_E2E_CACHE, default
# ~/.cache/ghostline-e2e): Debian's chromium and libkrb5-dev (apt-get, as root), Node 24 from npm's `node@24`
# package (code-server 4.139 needs it), and code-server 4.139.1 installed with that Node. Then it packages the
# extension (npm run package), unpacks the .vsix into a fresh extensions folder, starts code-server on a fixture
# folder and runs test/e2e/ghostline.e2e.mjs. Screenshots go to test-results/e2e/.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
cache=${GHOSTLINE_E2E_CACHE:-$HOME/.cache/ghostline-e2e}
cs_version=4.139.1
mkdir -p "$cache"
started=$(date +%s)
say() { echo "e2e [$(($(date +%s) - started))s]: $*"; }

# --- system packages: the browser, and Kerberos headers for code-server's native modules
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
if ((${#need[@]})); then
  say "installing ${need[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- Node 24 (the npm package ships the binary inside its registry tarball)
node24_dir=$cache/node24
node24=$node24_dir/node_modules/node/bin/node
if ! "$node24" -v 2>/dev/null | grep -q '^v24\.'; then
  say "installing node@24 from npm"
  rm -rf "$node24_dir"
  npm install --prefix "$node24_dir" --no-audit --no-fund --loglevel=error node@24 >/dev/null
fi
say "node $("$node24" -v)"

# --- code-server, installed by npm running on Node 24 so its install check passes. Its postinstall builds
# native modules and installs VS Code's own dependencies, so scripts must run for this one pinned package tree.
cs_dir=$cache/code-server-$cs_version
code_server=$cs_dir/node_modules/code-server/out/node/entry.js
if [[ ! -f $cs_dir/.installed ]]; then
  say "installing code-server $cs_version (takes a few minutes the first time)"
  rm -rf "$cs_dir"
  mkdir -p "$cs_dir"
  echo '{"name":"ghostline-e2e-code-server","private":true}' >"$cs_dir/package.json"
  (cd "$cs_dir" && PATH=$(dirname "$node24"):$PATH npm install --no-audit --no-fund --loglevel=error \
    --dangerously-allow-all-scripts "code-server@$cs_version" >"$cache/code-server-install.log" 2>&1) ||
    { tail -40 "$cache/code-server-install.log"; exit 1; }
  touch "$cs_dir/.installed"
fi

# --- the extension, exactly as the .vsix ships it
if [[ ! -f native/build/Release/ghostline.node ]]; then
  say "building the native addon"
  npm run build:native >/dev/null
fi
say "packaging the extension"
npm run package >/dev/null
vsix=$(ls -t ghostline-*.vsix | head -1)

run_dir=$(mktemp -d /tmp/ghostline-e2e.XXXXXX)
trap 'rm -rf "$run_dir"' EXIT
mkdir -p "$run_dir/extensions" "$run_dir/user/User" "$run_dir/workspace"
version=$(node -p 'require("./package.json").version')
ext_dir=$run_dir/extensions/ghostline.ghostline-$version
mkdir -p "$ext_dir"
(cd "$run_dir" && unzip -q "$repo/$vsix" 'extension/*' -d unpacked && cp -r unpacked/extension/. "$ext_dir/")
cp -r test/e2e/fixture/. "$run_dir/workspace/"
# Quick suggestions off, so ghost text renders inside the editor's view lines (no suggest widget in front of it);
# one-line suggestions, so the accepted text can be read back from one view line.
cat >"$run_dir/user/User/settings.json" <<'JSON'
{
  "editor.quickSuggestions": { "other": "off", "comments": "off", "strings": "off" },
  "editor.suggestOnTriggerCharacters": false,
  "editor.inlineSuggest.enabled": true,
  "editor.wordWrap": "on",
  "workbench.startupEditor": "none",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true,
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "files.autoSave": "off",
  "ghostline.debounceMs": 50,
  "ghostline.maxTokens": 24,
  "ghostline.multiLine": "singleLine"
}
JSON

port=$("$node24" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
say "starting code-server on 127.0.0.1:$port"
"$node24" "$code_server" --auth none --bind-addr "127.0.0.1:$port" --user-data-dir "$run_dir/user" \
  --extensions-dir "$run_dir/extensions" --disable-telemetry --disable-update-check --disable-workspace-trust \
  "$run_dir/workspace" >"$run_dir/code-server.log" 2>&1 &
cs_pid=$!
finish() {
  kill "$cs_pid" 2>/dev/null || true
  wait "$cs_pid" 2>/dev/null || true
  # Keep the logs beside the screenshots: code-server's, and VS Code's (the Ghostline channel and the extension host).
  mkdir -p test-results/e2e
  cp "$run_dir/code-server.log" test-results/e2e/ 2>/dev/null || true
  rm -rf test-results/e2e/logs && cp -r "$run_dir/user/logs" test-results/e2e/logs 2>/dev/null || true
  rm -rf "$run_dir"
}
trap finish EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$cs_pid" 2>/dev/null || { cat "$run_dir/code-server.log"; exit 1; }
  sleep 0.5
done

say "running the browser test"
rm -rf test-results/e2e
GHOSTLINE_E2E_URL="http://127.0.0.1:$port/?folder=$run_dir/workspace" \
  GHOSTLINE_E2E_WORKSPACE="$run_dir/workspace" \
  GHOSTLINE_E2E_EXTENSION_DIR="$ext_dir" \
  GHOSTLINE_E2E_CHROMIUM="$(command -v chromium)" \
  node --test --test-reporter=spec test/e2e/ghostline.e2e.mjs
say "done"
