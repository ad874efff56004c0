# One image for every process of the stack, built in two stages:
#   build:   the full dependency tree, `npm run build` -> dist/ (the runtime code as
#            JavaScript, dist/workflow-bundle.js, the web app in dist/web, db/migrations);
#   runtime: production dependencies only (`npm ci --omit=dev`: no TypeScript, no tsx)
#            and dist/. Every process is plain `node dist/...`; the workers load the
#            prebuilt workflow bundle (WORKFLOW_BUNDLE_PATH) instead of bundling at boot.
# The default command runs the API; docker-compose.yml overrides it:
#   worker:  node dist/workers/main.js
#   llm:     node dist/local-llm/main.js
#   migrate: node dist/scripts/migrate.js
#   ops:     docker compose exec api node dist/scripts/ops.js billing:failed
# Debian-based (glibc), not Alpine: @temporalio/worker ships a prebuilt glibc core bridge.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
RUN chown node:node /app
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build --chown=node:node /app/dist ./dist

USER node
# API (HTTP + WebSocket), embedded LLM, worker /metrics.
EXPOSE 3000 8787 9464
CMD ["node", "dist/api/main.js"]
