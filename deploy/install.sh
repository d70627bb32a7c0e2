#!/bin/sh
# Installs beamsync on a host from a release tarball made by `npm pack` (README "Install on a host").
#   sudo sh deploy/install.sh beamsync-0.1.0.tgz
# Idempotent: an existing configuration, credential or user is kept. The settings below may be overridden from
# the environment (CI installs into a temporary prefix as `nobody` this way).
set -eu

TARBALL="${1:?usage: install.sh beamsync-VERSION.tgz}"
PREFIX="${PREFIX:-/opt/beamsync}"                  # the executable ends up in $PREFIX/bin/beamsync
CONFIG_DIR="${CONFIG_DIR:-/etc/beamsync}"          # beamsync.yaml and credentials/
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"        # beamsync.service and its credential drop-ins
STATE_DIR="${STATE_DIR:-/var/lib/beamsync}"        # stateDir; the unit's StateDirectory=beamsync is the same place
SERVICE_USER="${SERVICE_USER:-beamsync}"
CATALOGS="${CATALOGS:-scicat}"                     # catalogs to load credentials for: "scicat", "icat" or "scicat icat"

if ! id "$SERVICE_USER" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$STATE_DIR" --shell /usr/sbin/nologin "$SERVICE_USER"
fi
SERVICE_GROUP="$(id -gn "$SERVICE_USER")"

# Production dependencies only (a global install never installs devDependencies). npm 11 runs install scripts
# of global packages only when allowed; better-sqlite3's builds (or fetches) its native addon.
npm install --global --prefix "$PREFIX" --no-audit --no-fund --allow-scripts=better-sqlite3 "$TARBALL"
PACKAGE="$PREFIX/lib/node_modules/beamsync"

# The service user reads the configuration and, when run by hand (doctor), the credentials; nobody else does.
install -d -m 0750 -o root -g "$SERVICE_GROUP" "$CONFIG_DIR" "$CONFIG_DIR/credentials"
if [ ! -e "$CONFIG_DIR/beamsync.yaml" ]; then
  install -m 0640 -o root -g "$SERVICE_GROUP" "$PACKAGE/config/beamsync.example.yaml" "$CONFIG_DIR/beamsync.yaml"
fi

# Made now (systemd would make it at the first start) so that doctor, run by hand before that, can write there.
install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_GROUP" "$STATE_DIR"

install -d -m 0755 "$UNIT_DIR" "$UNIT_DIR/beamsync.service.d"
sed "s#/opt/beamsync/#$PREFIX/#g" "$PACKAGE/systemd/beamsync.service" > "$UNIT_DIR/beamsync.service"
chmod 0644 "$UNIT_DIR/beamsync.service"
for catalog in $CATALOGS; do
  sed "s#/etc/beamsync/#$CONFIG_DIR/#g" "$PACKAGE/systemd/beamsync.service.d/$catalog-credentials.conf" \
    > "$UNIT_DIR/beamsync.service.d/$catalog-credentials.conf"
  chmod 0644 "$UNIT_DIR/beamsync.service.d/$catalog-credentials.conf"
  [ -e "$CONFIG_DIR/credentials/$catalog-password" ] || echo "next: put the $catalog password in $CONFIG_DIR/credentials/$catalog-password (see README)"
done

echo "installed: $PREFIX/bin/beamsync ($("$PREFIX/bin/beamsync" --version))"
echo "next: edit $CONFIG_DIR/beamsync.yaml, run doctor as $SERVICE_USER, then: systemctl daemon-reload && systemctl enable --now beamsync"
