#!/usr/bin/env bash
# The main job on the embedded default (SQLite + filesystem pool), on a fresh Debian machine:
# install Chantal, import the machine's APT sources, mirror a small package set of the main
# suite (verified against the machine's Debian archive keyring), publish it signed with a new
# key, serve it on 127.0.0.1, and let apt-get use it with a private state directory.
# The upstream mirror is read from the machine's APT sources; nothing is hard-coded.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${CHANTAL_DEMO_DIR:-/tmp/chantal-demo}
PACKAGES=${CHANTAL_DEMO_PACKAGES:-"hello libc6 libgcc-s1 gcc-12-base"}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing system tools (gnupg, apt) and Chantal into $WORK/venv"
if ! command -v gpg >/dev/null || ! command -v gpgv >/dev/null; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq gnupg gpgv >/dev/null
fi
rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$REPO_ROOT"
chantal() { "$WORK/venv/bin/chantal" --config "$WORK/config.yaml" "$@"; }

. /etc/os-release
SUITE=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}

step "importing the machine's APT sources"
"$WORK/venv/bin/chantal" repo import --from-apt-sources -o "$WORK/imported.yaml"
"$WORK/venv/bin/python" - "$WORK" "$SUITE" "$PACKAGES" <<'PY'
import sys
from ruamel.yaml import YAML
work, suite, packages = sys.argv[1], sys.argv[2], sys.argv[3].split()
yaml = YAML()
imported = yaml.load(open(f"{work}/imported.yaml"))["repositories"]
main = [r for r in imported if r["apt"]["distribution"] == suite]
if not main:
    sys.exit(f"no APT source for suite {suite} in the machine's sources")
repo = dict(main[0])
repo["id"] = "debian-main"
repo["apt"] = {"distribution": suite, "components": ["main"], "architectures": ["amd64"]}
repo["filters"] = {"patterns": {"include": [f"^{p}$" for p in packages]},
                   "post_processing": {"only_latest_version": True}}
config = {
    "storage": {"base_path": f"{work}/state", "published_path": f"{work}/published"},
    "gpg": {"enabled": False, "gnupg_home": f"{work}/gnupg"},
    "repositories": [repo],
}
yaml.dump(config, open(f"{work}/config.yaml", "w"))
print(f"mirroring {', '.join(packages)} from {repo['feed']} {suite} main amd64")
PY

step "chantal init"
chantal init

step "chantal key generate (publishing key)"
FPR=$(chantal key generate --name "Chantal demo" --email demo@localhost | awk '/^fingerprint:/{print $2}')
"$WORK/venv/bin/python" - "$WORK" "$FPR" <<'PY'
import sys
from ruamel.yaml import YAML
work, fpr = sys.argv[1], sys.argv[2]
yaml = YAML()
config = yaml.load(open(f"{work}/config.yaml"))
config["gpg"]["enabled"] = True
config["gpg"]["key_id"] = fpr
yaml.dump(config, open(f"{work}/config.yaml", "w"))
PY
chantal key export -o "$WORK/published-key.asc"

step "chantal repo sync (InRelease verified against the machine's Debian archive keyring)"
chantal repo sync --repo-id debian-main
step "second sync: upstream unchanged, only the Release file is fetched"
chantal repo sync --repo-id debian-main

step "chantal publish repo"
chantal publish repo --repo-id debian-main
chantal pool stats

step "serving the published tree on 127.0.0.1"
PORT=$("$WORK/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/published" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 1

step "apt-get against the published repository only (private state, our key as Signed-By)"
APT="$WORK/apt"; mkdir -p "$APT"/{lists/partial,archives/partial,etc/sources.list.d,etc/preferences.d}
: > "$APT/status"
gpg --dearmor < "$WORK/published-key.asc" > "$APT/key.gpg"
cat > "$APT/etc/sources.list.d/chantal.sources" <<EOF
Types: deb
URIs: http://127.0.0.1:$PORT/debian-main/latest/
Suites: $SUITE
Components: main
Architectures: amd64
Signed-By: $APT/key.gpg
EOF
APTOPTS=(-o "Dir::State=$APT" -o "Dir::State::Lists=$APT/lists" -o "Dir::State::status=$APT/status"
         -o "Dir::Cache=$APT" -o "Dir::Etc::SourceList=/dev/null"
         -o "Dir::Etc::SourceParts=$APT/etc/sources.list.d" -o "Dir::Etc::Preferences=/dev/null"
         -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d" -o "APT::Architecture=amd64"
         -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
apt-get "${APTOPTS[@]}" update
apt-cache "${APTOPTS[@]}" policy ${PACKAGES%% *}
apt-get "${APTOPTS[@]}" install --simulate -y ${PACKAGES%% *}
step "done: the published tree is in $WORK/published, the catalog in $WORK/state/chantal.db"
