# syntax=docker/dockerfile:1
# Tessel GPU worker (task queue tessel-gpu): CUDA 12 + cuDNN 9 runtime, onnxruntime-node's CUDA build.
# Build from the repository root (the build stage fetches the CUDA provider from NuGet, so build where
# that is reachable and ship the image):
#   docker build -f infra/docker/gpu.Dockerfile --build-arg GIT_REVISION=$(git rev-parse --short=12 HEAD) -t tessel-gpu:<tag> .
# Base images are pinned by digest; bump them deliberately (docker buildx imagetools inspect <image:tag>).
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04@sha256:59e0e4376a0f16d10b03d3a14344b80a866a1674cb4948cb318291387ac05010

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
# The CUDA 12 provider libraries of onnxruntime-node, installed at image build time (docs/gpu.md).
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
  && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY core ./core
COPY activities ./activities
COPY workflows ./workflows
COPY workers ./workers
COPY cli ./cli
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS node
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*

FROM ${CUDA_IMAGE}
# Node 20 from the official image (Ubuntu 22.04's glibc 2.35 runs its binaries), tini as PID 1.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/bin/tini-static /usr/bin/tini
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /app tessel
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
RUN mkdir -p /app/.tessel && chown 10001:10001 /app/.tessel
ARG GIT_REVISION=unknown
# glibc's mmap threshold fixed, as bin/memory-env.js says (bin/tessel.js does not re-run a worker to set it).
ENV NODE_ENV=production MALLOC_MMAP_THRESHOLD_=131072 TESSEL_GIT_REVISION=${GIT_REVISION}
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/tessel.js", "worker"]
CMD ["--queue", "gpu", "--device", "cuda", "--metrics-port", "9464", "--shutdown-grace", "60"]
