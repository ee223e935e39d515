#!/usr/bin/env bash
# Chantal's main job on the embedded default (SQLite catalog + filesystem pool), on a Debian
# machine, as root:
#
#   1. install the system tools it needs (gnupg, gpgv, python3-venv) and Chantal from this
#      checkout into a virtualenv under $WORK (default /tmp/chantal-demo);
#   2. `chantal init`, `chantal repo import --from-apt-sources` (the machine's own sources:
#      no mirror is named here), restrict the main suite's repository to htop and what it
#      depends on (`with_dependencies: true`), `chantal key generate`;
#   3. `chantal repo sync` twice (the second finds upstream unchanged: only the Release
#      file is fetched), `chantal publish repo` (signed with the new key);
#   4. serve the published tree on 127.0.0.1 and run `apt-get update`, `apt-cache policy`
#      and `apt-get install --simulate` against it alone, with a private apt state
#      directory, an empty dpkg status and the exported key as Signed-By.
#
# Environment: CHANTAL_DEMO_DIR (work directory, default /tmp/chantal-demo),
# CHANTAL_DEMO_PACKAGES (space-separated package names, default "htop").
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${CHANTAL_DEMO_DIR:-/tmp/chantal-demo}
PACKAGES=${CHANTAL_DEMO_PACKAGES:-htop}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -d "$WORK/state/gnupg" ] && command -v gpgconf >/dev/null; then
    gpgconf --homedir "$WORK/state/gnupg" --kill gpg-agent 2>/dev/null || true
  fi
}
trap cleanup EXIT

. /etc/os-release
SUITE=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
ARCH=$(dpkg --print-architecture)

step "1. system tools and Chantal (from $REPO_ROOT) in $WORK/venv"
need=()
command -v gpg >/dev/null || need+=(gnupg)
command -v gpgv >/dev/null || need+=(gpgv)
command -v python3 >/dev/null || need+=(python3)
if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  need+=(python3-venv)
fi
if [ ${#need[@]} -gt 0 ]; then
  run $SUDO apt-get update -qq
  run $SUDO apt-get install -y -qq "${need[@]}"
fi
if [ -e "$WORK" ] && [ ! -e "$WORK/.chantal-demo" ] && [ ! -e "$WORK/venv/bin/chantal" ]; then
  echo "$WORK exists and was not made by this script; set CHANTAL_DEMO_DIR" >&2
  exit 1
fi
rm -rf "$WORK"
mkdir -p "$WORK"
chmod 755 "$WORK"
touch "$WORK/.chantal-demo"
run python3 -m venv "$WORK/venv"
run "$WORK/venv/bin/pip" install -q "$REPO_ROOT"
PY="$WORK/venv/bin/python"
chantal() { printf '$ chantal %s\n' "$*" >&2; "$WORK/venv/bin/chantal" --config "$WORK/config.yaml" "$@"; }

step "2. configuration, catalog, the machine's APT sources, a publishing key"
cat > "$WORK/config.yaml" <<EOF
# storage and catalog (SQLite) under one directory; repositories come from repos.yaml
storage:
  base_path: $WORK/state
  published_path: $WORK/published
include: repos.yaml
EOF
echo "repositories: []" > "$WORK/repos.yaml"
chantal init
chantal repo import --from-apt-sources -o "$WORK/imported.yaml"
# Keep the imported repositories; sync only the one of the main suite, restricted to the
# demo packages and their dependencies, for this machine's architecture.
REPO_ID=$("$PY" - "$WORK" "$SUITE" "$ARCH" "$PACKAGES" <<'PY'
import sys
from ruamel.yaml import YAML

work, suite, arch, packages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
yaml = YAML()
with open(f"{work}/imported.yaml") as handle:
    data = yaml.load(handle)
repos = data["repositories"]
main = [r for r in repos
        if r["apt"]["distribution"] == suite and "main" in r["apt"]["components"]]
if not main:
    sys.exit(f"the machine's APT sources have no {suite} entry with component main")
for repo in repos:
    repo["enabled"] = repo is main[0]
chosen = main[0]
chosen["apt"]["components"] = ["main"]
chosen["apt"]["architectures"] = [arch]
chosen["with_dependencies"] = True
chosen["filters"] = {"patterns": {"include": [f"^{p}$" for p in packages]}}
with open(f"{work}/repos.yaml", "w") as handle:
    yaml.dump(data, handle)
print(chosen["id"])
PY
)
echo "repository $REPO_ID: $SUITE main $ARCH, packages: $PACKAGES (+ dependencies)"
chantal repo list
KEY_YAML=$(chantal key generate --name "Chantal demo" --email chantal-demo@localhost)
echo "$KEY_YAML"
"$PY" - "$WORK/config.yaml" "$KEY_YAML" <<'PY'
import sys
from ruamel.yaml import YAML

path, printed = sys.argv[1], YAML(typ="safe").load(sys.argv[2])
yaml = YAML()
with open(path) as handle:
    config = yaml.load(handle)
config["gpg"] = printed["gpg"]
with open(path, "w") as handle:
    yaml.dump(config, handle)
PY
chantal config check >/dev/null
chantal key export -o "$WORK/chantal-demo.asc"

step "3. sync (InRelease verified with the keyring the sources' Signed-By names), publish"
chantal repo sync --repo-id "$REPO_ID"
echo "-- again: upstream unchanged, only the Release file is fetched"
chantal repo sync --repo-id "$REPO_ID"
chantal repo history --repo-id "$REPO_ID" --limit 2
chantal package list --repo-id "$REPO_ID"
chantal publish repo --repo-id "$REPO_ID"
chantal pool stats

step "4. apt-get against the published tree only (private state, our key as Signed-By)"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/published" \
  >"$WORK/http.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/http.log" >&2; exit 1; }
  sleep 0.1
done
URL="http://127.0.0.1:$PORT/$REPO_ID/latest/"
echo "serving $WORK/published at http://127.0.0.1:$PORT/ (PID $SERVER)"

APT="$WORK/apt"
mkdir -p "$APT"/{lists/partial,archives/partial,etc/sources.list.d,etc/apt.conf.d,etc/preferences.d,etc/trusted.gpg.d,log}
: > "$APT/status"
cat > "$APT/etc/sources.list.d/chantal-demo.sources" <<EOF
Types: deb
URIs: $URL
Suites: $SUITE
Components: main
Architectures: $ARCH
Signed-By: $WORK/chantal-demo.asc
EOF
cat "$APT/etc/sources.list.d/chantal-demo.sources"
APT_OPTS=(-o "Dir::State=$APT" -o "Dir::State::Lists=$APT/lists"
          -o "Dir::State::status=$APT/status" -o "Dir::Cache=$APT" -o "Dir::Log=$APT/log"
          -o "Dir::Etc::SourceList=$APT/etc/sources.list" -o "Dir::Etc::SourceParts=$APT/etc/sources.list.d"
          -o "Dir::Etc::Parts=$APT/etc/apt.conf.d" -o "Dir::Etc::Preferences=$APT/etc/preferences"
          -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
          -o "Dir::Etc::Trusted=$APT/etc/trusted.gpg" -o "Dir::Etc::TrustedParts=$APT/etc/trusted.gpg.d"
          -o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH"
          -o "Acquire::Languages=none" -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
: > "$APT/apt.conf"
export APT_CONFIG="$APT/apt.conf" LC_ALL=C
printf '$ apt-get update\n'
apt-get "${APT_OPTS[@]}" update 2>&1 | tee "$APT/update.log"
if grep -E '^(W|E|N|Err):' "$APT/update.log" >/dev/null; then
  echo "apt-get update reported problems" >&2
  exit 1
fi
printf '$ apt-cache policy %s\n' "$PACKAGES"
# shellcheck disable=SC2086  # PACKAGES is a list of package names
apt-cache "${APT_OPTS[@]}" policy $PACKAGES
printf '$ apt-get install --simulate %s\n' "$PACKAGES"
# shellcheck disable=SC2086
apt-get "${APT_OPTS[@]}" install --simulate -y $PACKAGES

step "done: published tree in $WORK/published, catalog $WORK/state/chantal.db, pool $WORK/state/pool"
