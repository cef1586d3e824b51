# jobcast as a container: `docker build -t jobcast .` then
# `docker run -p 3000:3000 -v jobcast-data:/data jobcast` (the first start prints the demo token in the log).

FROM node:20-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary can be downloaded.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# No scripts yet: `prepare` (the build) needs the sources, copied below; better-sqlite3's install step runs now.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY src src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY bin bin
COPY examples examples
# The data folder (SQLite file and job files) is a volume, writable by the unprivileged user only.
RUN mkdir /data && chown node:node /data
ENV HOST=0.0.0.0 PORT=3000 JOBCAST_DATA_DIR=/data
USER node
VOLUME /data
EXPOSE 3000
# node handles SIGTERM itself (graceful shutdown: running jobs get JOBCAST_SHUTDOWN_GRACE_MS).
CMD ["node", "bin/jobcast.js", "serve"]
