# One image for every process of the stack. The default command runs the API;
# docker-compose.yml overrides it for the worker and the embedded LLM:
#   worker: node --import tsx workers/main.ts
#   llm:    node --import tsx llm/main.ts
# TypeScript runs through tsx (a runtime dependency), so there is no build step.
# Debian-based (glibc), not Alpine: @temporalio/worker ships a prebuilt glibc core bridge.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app
RUN chown node:node /app

COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --chown=node:node . .
# The web app (GET /): bundled here once so a broken build fails the image build.
RUN node --import tsx scripts/build-web.ts dist/web

USER node
# API (HTTP + WebSocket), embedded LLM, worker /metrics.
EXPOSE 3000 8787 9464
CMD ["node", "--import", "tsx", "api/main.ts"]
