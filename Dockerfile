# syntax=docker/dockerfile:1
#
# commentd image: a static Go binary on distroless, run as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t commentd .
#   docker run --rm -p 8080:8080 -e COMMENTD_REDIS_ADDRS=redis:6379 \
#     -e COMMENTD_MONGO_URI=mongodb://mongo:27017 commentd
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.
# deploy/deploy_test.go builds the binary exactly as the RUN line below does
# and checks it is static; no image has been built on the project's machines,
# which run no Docker engine.

# GO_VERSION must be at least the go line of go.mod (the image sets
# GOTOOLCHAIN=local, so an older Go stops the build instead of downloading).
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
# Caches in folders of our own, mounted between builds.
ENV GOCACHE=/cache/go-build GOMODCACHE=/cache/go-mod
# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/cache/go-mod go mod download
COPY . .
# CGO_ENABLED=0: no libc, so the binary runs on distroless/static (no
# dynamic loader there). Cross-compiled for the target platform, so an
# arm64 image builds without emulation.
RUN --mount=type=cache,target=/cache/go-mod --mount=type=cache,target=/cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/commentd ./cmd/commentd

# static-debian12 holds CA certificates (mongodb+srv://, TLS to Redis),
# tzdata and /etc/passwd entries, and no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/commentd /commentd
# The nonroot tag already runs as 65532; numeric here so that Kubernetes'
# runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
# No HEALTHCHECK: it would need a shell or curl, which distroless lacks.
# Orchestrators probe the HTTP endpoints instead: GET /healthz (the process
# is up) and GET /readyz (Redis answers); see deploy/kubernetes/commentd.yaml.
ENTRYPOINT ["/commentd"]
CMD ["serve"]
