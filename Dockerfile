# One image for every Tickwork service, each a JavaScript bundle built by `npm run build` (esbuild).
# The default command runs the API; override it per service (see docker-compose.yml):
#   node --enable-source-maps --max-semi-space-size=2 --heap-growing-percent=50 dist/scheduler.js | dist/worker.js | dist/migrate.js

# Build stage: all dependencies (esbuild, tsx), then the bundles in dist/.
FROM node:22-slim AS build

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/bots/package.json packages/bots/
COPY packages/worker/package.json packages/worker/
COPY packages/client/package.json packages/client/
COPY packages/cli/package.json packages/cli/
COPY packages/cli/bin packages/cli/bin/
COPY apps/api/package.json apps/api/
COPY apps/scheduler/package.json apps/scheduler/
COPY apps/worker/package.json apps/worker/
COPY bench/package.json bench/
RUN npm ci --include=dev

COPY . .
RUN npm run build

# Runtime stage: production dependencies only (the bundles import every third-party package from
# node_modules; the build fails if one is not a regular dependency), the bundles and the migrations.
FROM node:22-slim

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/bots/package.json packages/bots/
COPY packages/worker/package.json packages/worker/
COPY packages/client/package.json packages/client/
COPY packages/cli/package.json packages/cli/
COPY packages/cli/bin packages/cli/bin/
COPY apps/api/package.json apps/api/
COPY apps/scheduler/package.json apps/scheduler/
COPY apps/worker/package.json apps/worker/
COPY bench/package.json bench/
RUN npm ci --omit=dev && npm cache clean --force

# The source maps carry the TypeScript, so stack traces name .ts files without the sources in the image.
COPY --from=build /app/dist dist/
# The CLI's bundle: `docker compose exec api npx tickwork queues` talks to the API in the container.
COPY --from=build /app/packages/cli/dist packages/cli/dist/
# The engine's migrations, then each extension's (scripts/migrate.ts applies them in that order).
COPY migrations migrations/
COPY packages/bots/migrations packages/bots/migrations/
# The entry point of isolated tasks' threads and processes (plain JavaScript): the worker's bundle finds
# it by its source path, as the migrations (docs/tasks.md, "Hard time limits: isolation").
COPY packages/worker/src/isolate-runner.mjs packages/worker/src/

# In production the API refuses to start without a token (API_TOKEN or API_TOKENS), and the diag.* tasks
# are off unless ENABLE_DIAG_TASKS=true.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

# Everything stays root-owned and read-only for the service.
USER node
EXPOSE 3000
CMD ["node", "--enable-source-maps", "--max-semi-space-size=2", "--heap-growing-percent=50", "dist/api.js"]
