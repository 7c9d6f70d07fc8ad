# Stowage's image: `docker build -t stowage .` at the repository root.
# Multi-stage: native addons (better-sqlite3, lzma-native) build in the first stage; the final
# image holds production dependencies only and runs as the numeric non-root user 10001, as the
# chart's restricted securityContext expects (runAsNonRoot, read-only root filesystem).

FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=8080 \
    STOWAGE_DATA_DIR=/data \
    TMPDIR=/tmp
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY src ./src
COPY migrations ./migrations
# The app runs its TypeScript through tsx (a runtime dependency); tsx caches in TMPDIR, which
# the chart mounts as an emptyDir. `stowage migrate`, `stowage serve` and kubectl exec use this.
RUN printf '#!/bin/sh\nexec node --import tsx /app/src/main.ts "$@"\n' > /usr/local/bin/stowage \
 && chmod 755 /usr/local/bin/stowage \
 && mkdir -p /data \
 && chown 10001:10001 /data
USER 10001:10001
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["stowage"]
CMD ["serve"]
