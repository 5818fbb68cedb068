# syntax=docker/dockerfile:1
# Tessel CPU worker (task queues tessel-cpu and, with --queue workflows, tessel-workflows).
# Build from the repository root:
#   docker build -f infra/docker/cpu.Dockerfile --build-arg GIT_REVISION=$(git rev-parse --short=12 HEAD) -t tessel-cpu:<tag> .
# Base images are pinned by digest; bump them deliberately (docker buildx imagetools inspect <image:tag>).
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# .npmrc keeps onnxruntime-node from fetching CUDA libraries: the CPU image needs none.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY core ./core
COPY activities ./activities
COPY workflows ./workflows
COPY workers ./workers
COPY cli ./cli
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# tini as PID 1: it forwards SIGTERM to the worker (which drains) and reaps zombies.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
# .tessel/ holds the reference model cache; the worker runs as the image's unprivileged node user.
RUN mkdir -p /app/.tessel && chown 1000:1000 /app/.tessel
ARG GIT_REVISION=unknown
# glibc's mmap threshold fixed, as bin/memory-env.js says (bin/tessel.js does not re-run a worker to set it).
ENV NODE_ENV=production MALLOC_MMAP_THRESHOLD_=131072 TESSEL_GIT_REVISION=${GIT_REVISION}
USER 1000:1000
EXPOSE 9464
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/tessel.js", "worker"]
CMD ["--queue", "cpu", "--metrics-port", "9464", "--shutdown-grace", "60"]
