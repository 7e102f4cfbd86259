# One image for every Tickwork service. TypeScript runs through tsx: there is no build step.
# The default command runs the API; override it per service (see docker-compose.yml):
#   npm run start:scheduler | npm run start:worker | npm run migrate
FROM node:22-slim

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY apps/api/package.json apps/api/
COPY apps/scheduler/package.json apps/scheduler/
COPY apps/worker/package.json apps/worker/
# tsx (which runs the TypeScript) is a devDependency, so install everything.
RUN npm ci --include=dev && npm cache clean --force

COPY . .

# Set after `npm ci` so the install above keeps devDependencies. In production the API refuses to
# start without API_TOKEN.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

# The sources stay root-owned and read-only for the service.
USER node
EXPOSE 3000
CMD ["npm", "run", "start:api"]
