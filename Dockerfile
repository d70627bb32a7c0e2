# syntax=docker/dockerfile:1
# Two stages. The build stage makes the release tarball (`npm pack`, as in README "Install on a host") and
# installs it into /opt/beamsync, compiling better-sqlite3's native addon there. The runtime stage receives
# only that install: compiled code, production dependencies, the example config and the unit files; no
# sources, tests, fakes or benchmark code.
# Node 24 (LTS). On Node 22 and later beamsync opens SQLite through better-sqlite3 13 (Node-API, prebuilt in
# the package; src/sqlite.ts); 12 is still built for Node 20.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare script needs the sources, which come next; the addon is built by the install below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json README.md ./
COPY bin ./bin
COPY src ./src
# The demo (compiled with the rest, left out of the package) imports the fake SciCat and the data-root writer.
COPY test/fakes ./test/fakes
COPY test/fixtures ./test/fixtures
COPY config ./config
COPY systemd ./systemd
COPY monitoring ./monitoring
COPY deploy ./deploy
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && npm install --global --prefix /opt/beamsync --allow-scripts=better-sqlite3 /tmp/beamsync-*.tgz

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PATH=/opt/beamsync/bin:$PATH
COPY --from=build /opt/beamsync /opt/beamsync
# A fixed non-root uid/gid (10001), so host files (secrets) and Kubernetes' runAsUser can name it.
RUN groupadd --system --gid 10001 beamsync \
 && useradd --system --uid 10001 --gid beamsync --home-dir /var/lib/beamsync --shell /usr/sbin/nologin beamsync \
 && install -d -o beamsync -g beamsync -m 0750 /var/lib/beamsync
USER 10001:10001
VOLUME ["/var/lib/beamsync"]
ENV BEAMSYNC_CONFIG=/etc/beamsync/beamsync.yaml \
    BEAMSYNC_STATEDIR=/var/lib/beamsync \
    BEAMSYNC_HTTP__HOST=0.0.0.0
EXPOSE 9464
# Asks /healthz on the port the configuration names (file, then BEAMSYNC_HTTP__PORT), not a fixed one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/opt/beamsync/lib/node_modules/beamsync/dist/src/ops/healthcheck.js"]
ENTRYPOINT ["beamsync"]
CMD ["run"]
