# syntax=docker/dockerfile:1
# One file, three images: the scraper, the serve function and the events function, each a plain Node 24
# program running the TypeScript sources through Node's type stripping (no build step, no bundler).
#
#   docker build --target scrape -t ghcr.io/OWNER/metrics-scrape:0.1.0 .
#   docker build --target serve  -t ghcr.io/OWNER/metrics-serve:0.1.0 .
#   docker build --target events -t ghcr.io/OWNER/metrics-events:0.1.0 .
#
# All run as uid/gid 1000 (the base image's `node` user) and write nothing but the serve function's
# self-signed certificate, which goes to --cert-dir (a writable emptyDir at /tmp): they run with
# readOnlyRootFilesystem. docs/deploy.md has the full build and push commands.

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
# The trigger server and the probes (POST /, /healthz, /livez, /readyz, /_/health, /_/ready).
EXPOSE 8080
ENTRYPOINT ["node", "functions/scrape/main.ts"]

FROM runtime AS serve
COPY functions/serve ./functions/serve
# 10250: HTTPS for the aggregator (--secure-port); 8080: plain-HTTP probes when --port=8080 is given.
EXPOSE 10250 8080
ENTRYPOINT ["node", "functions/serve/main.ts"]

FROM runtime AS events
# The Node flags of package.json's `events` script (a test keeps the two equal): 16 MiB semi-spaces, as
# the scraper's; a journaled event's short-lived strings do not need V8's larger default (docs/performance.md).
ENV NODE_OPTIONS=--max-semi-space-size=16
COPY functions/events ./functions/events
# The trigger server, the probes and /metrics (POST /, /healthz, /livez, /readyz, /_/health, /_/ready).
EXPOSE 8080
ENTRYPOINT ["node", "functions/events/main.ts"]
