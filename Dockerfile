# syntax=docker/dockerfile:1
# Multi-stage build: compile (and build better-sqlite3's native addon) in a full image, run in a slim one.

FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare script needs the sources, which come next; the native addon is built below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY test/fakes ./test/fakes
COPY test/fixtures ./test/fixtures
COPY bench ./bench
RUN npm rebuild better-sqlite3 && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /opt/beamsync
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# Non-root user; state lives in a volume, the DATA root is mounted read-only.
RUN groupadd --system beamsync && useradd --system --gid beamsync --home-dir /var/lib/beamsync beamsync \
    && mkdir -p /var/lib/beamsync /data && chown beamsync:beamsync /var/lib/beamsync
USER beamsync
VOLUME ["/var/lib/beamsync"]
ENV BEAMSYNC_CONFIG=/etc/beamsync/beamsync.yaml \
    BEAMSYNC_STATEDIR=/var/lib/beamsync \
    BEAMSYNC_HTTP__HOST=0.0.0.0
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/opt/beamsync/bin/beamsync.js"]
CMD ["run"]
# docker run -v /data/beamline:/data/beamline:ro -v beamsync-state:/var/lib/beamsync \
#   -v /etc/beamsync:/etc/beamsync:ro -p 127.0.0.1:9464:9464 beamsync
