#!/usr/bin/env bash
# The README's host install, proven: build the release tarball, install it with deploy/install.sh into a
# temporary prefix, then run `beamsync --version` and `beamsync doctor` as an unprivileged user (nobody) with
# credentials read by hand the way the README says, against the in-repo fake SciCat. Finally
# `systemd-analyze verify` on the unit and drop-ins as installed, when the tool is present.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

work="$(mktemp -d)"
fake_pid=""
cleanup() {
  if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"   # the unprivileged user must reach the prefix and the configuration below

npm pack --silent --pack-destination "$work" >/dev/null
tarball="$(ls "$work"/beamsync-*.tgz)"
echo "tarball: $(basename "$tarball"), $(tar tzf "$tarball" | wc -l) files"
if tar tzf "$tarball" | grep -E '^package/(test|bench|src|dist/(test|bench)|dist/src/demo)/'; then
  echo "the tarball carries files that are not part of the product (above)" >&2
  exit 1
fi

user=nobody
group="$(id -gn "$user")"
as_user() { setpriv --reuid="$user" --regid="$group" --clear-groups --inh-caps=-all -- "$@"; }
# setpriv --clear-groups drops supplementary groups; the configuration is readable through the primary group.

PREFIX="$work/opt/beamsync" CONFIG_DIR="$work/etc/beamsync" UNIT_DIR="$work/systemd" STATE_DIR="$work/state" \
  SERVICE_USER="$user" CATALOGS="scicat" \
  sh deploy/install.sh "$tarball"
beamsync="$work/opt/beamsync/bin/beamsync"

# The fake SciCat from this repository (built by npm test), on a free loopback port.
node dist/test/fakes/scicat/main.js --port 0 --user ingestor:ci-install-password > "$work/fake.out" &
fake_pid=$!
for _ in $(seq 1 100); do [ -s "$work/fake.out" ] && break; sleep 0.1; done
url="$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]).url)' "$work/fake.out")"

# What the README asks of an operator: the configuration edited, the password in credentials/.
mkdir -p "$work/DATA"
cat > "$work/etc/beamsync/beamsync.yaml" <<YAML
dataRoot: $work/DATA
stateDir: $work/state
sources: { resonance: { enabled: false } }
destinations:
  scicat:
    url: $url
    username: ingestor
    passwordFile: \${CREDENTIALS_DIRECTORY}/scicat-password
    pidPrefix: "ci/"
mapping: { ownerGroup: staff, accessGroups: [staff], instrument: ci }
YAML
printf %s ci-install-password | install -m 0640 -o root -g "$group" /dev/stdin "$work/etc/beamsync/credentials/scicat-password"

echo "beamsync --version as $user: $(as_user "$beamsync" --version)"
CREDENTIALS_DIRECTORY="$work/etc/beamsync/credentials" as_user "$beamsync" doctor --config "$work/etc/beamsync/beamsync.yaml"

if command -v systemd-analyze >/dev/null; then
  # verify wants the ExecStart binary to exist: the install rewrote it to the temporary prefix.
  out="$(cd "$work/systemd" && SYSTEMD_UNIT_PATH="$work/systemd:" systemd-analyze verify "$work/systemd/beamsync.service" 2>&1)" || { echo "$out" >&2; exit 1; }
  if [ -n "$out" ]; then echo "systemd-analyze verify is not clean:" >&2; echo "$out" >&2; exit 1; fi
  echo "systemd-analyze verify: clean"
else
  echo "systemd-analyze not found: unit not verified"
fi
echo "install check passed"
