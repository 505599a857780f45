# syntax=docker/dockerfile:1
# One file, three images: the scraper, the serve function and the events function, each a plain Node 24
# program running the TypeScript sources through Node's type stripping (no build step, no bundler). Each
# image carries Node's compile cache of its program, filled when it is built: a start then reads every
# module's stripped source and compiled code instead of stripping and compiling it again (half the CPU
# to ready, 25 MiB less resident: docs/performance.md, "Start-up").
#
#   docker build --target scrape -t ghcr.io/OWNER/metrics-scrape:0.1.0 .
#   docker build --target serve  -t ghcr.io/OWNER/metrics-serve:0.1.0 .
#   docker build --target events -t ghcr.io/OWNER/metrics-events:0.1.0 .
#
# All run as uid/gid 1000 (the base image's `node` user) and write nothing but the serve function's
# self-signed certificate, which goes to --cert-dir (a writable emptyDir at /tmp): they run with
# readOnlyRootFilesystem (the compile cache is only read). Node keeps a cache per user id: run as another
# uid, a function starts as it would without one (nothing fails; Node cannot add to it and carries on). docs/deploy.md has the full build and push commands.

ARG NODE_IMAGE=node:24-alpine

# Production dependencies only, exactly as locked.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# What every function shares: the runtime, the dependencies and shared/.
FROM ${NODE_IMAGE} AS runtime
# npm and yarn are not needed to run a program: leave them out of the final images.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /opt/yarn* \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /usr/local/bin/corepack
WORKDIR /app
ENV NODE_ENV=production
# Where Node reads (and, while the image is built, writes) its compile cache; owned by the user the
# functions run as, the one the cache is filled as.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN mkdir -m 0755 /app/.node-compile-cache && chown 1000:1000 /app/.node-compile-cache
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY shared ./shared
USER 1000:1000

FROM runtime AS scrape
# The Node flags of package.json's `scrape` script (a test keeps the two equal): a young generation of
# 16 MiB semi-spaces instead of V8's 64 MiB on large machines, which a cycle's short-lived garbage does
# not need (docs/performance.md).
ENV NODE_OPTIONS=--max-semi-space-size=16
COPY functions/scrape ./functions/scrape
# Fill the compile cache, with this stage's NODE_OPTIONS: --help loads the program's static module
# graph, shared/compile-cache.ts what it loads on first use (client-node's KubeConfig).
RUN node functions/scrape/main.ts --help > /dev/null && node shared/compile-cache.ts
# The trigger server and the probes (POST /, /healthz, /livez, /readyz, /_/health, /_/ready).
EXPOSE 8080
ENTRYPOINT ["node", "functions/scrape/main.ts"]

FROM runtime AS serve
COPY functions/serve ./functions/serve
# Fill the compile cache, with this stage's NODE_OPTIONS: --help loads the program's static module
# graph, shared/compile-cache.ts what it loads on first use (client-node's KubeConfig).
RUN node functions/serve/main.ts --help > /dev/null && node shared/compile-cache.ts
# 10250: HTTPS for the aggregator (--secure-port); 8080: plain-HTTP probes when --port=8080 is given.
EXPOSE 10250 8080
ENTRYPOINT ["node", "functions/serve/main.ts"]

FROM runtime AS events
# The Node flags of package.json's `events` script (a test keeps the two equal): 16 MiB semi-spaces, as
# the scraper's; a journaled event's short-lived strings do not need V8's larger default (docs/performance.md).
ENV NODE_OPTIONS=--max-semi-space-size=16
COPY functions/events ./functions/events
# Fill the compile cache, with this stage's NODE_OPTIONS: --help loads the program's static module
# graph, shared/compile-cache.ts what it loads on first use (client-node's KubeConfig; every kind of
# sink, with its SDK).
RUN node functions/events/main.ts --help > /dev/null && node shared/compile-cache.ts functions/events/sinks/*.ts
# The trigger server, the probes and /metrics (POST /, /healthz, /livez, /readyz, /_/health, /_/ready).
EXPOSE 8080
ENTRYPOINT ["node", "functions/events/main.ts"]
