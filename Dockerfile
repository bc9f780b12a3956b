# One image for every tallyflow service; the command picks the service.
# Node 24 runs the TypeScript sources directly (type stripping): no build step.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Fonts for the server-rendered charts (Skia finds them; without any, labels are blank).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Runtime dependencies only (the `node` devDependency pins Node for npm scripts on hosts
# with an older system Node; the image already has Node 24).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY common ./common
COPY ingest-api ./ingest-api
COPY batch-writer ./batch-writer
COPY result-publisher ./result-publisher
COPY web ./web
COPY sql ./sql
COPY scripts ./scripts
# The repository root and the process helpers the scripts share with the tests.
COPY harness ./harness
USER node
EXPOSE 3000 9100 9101 9102
CMD ["node", "scripts/start.ts"]
