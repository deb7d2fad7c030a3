# syntax=docker/dockerfile:1
#
# boxoffice: one image for every role (serve --routes search|booking|all, worker, migrate, seed).
#
#   docker build --build-arg BOXOFFICE_GIT_SHA="$(git rev-parse HEAD)" -t boxoffice:dev .
#   docker run --rm -p 8080:8080 -e BOXOFFICE_DATABASE_URL=... -e BOXOFFICE_REDIS_URL=... boxoffice:dev
#
# Stage 1 compiles on Debian bookworm with the locked dependencies (BuildKit cache mounts keep the registry and
# the target directory between builds). Stage 2 is distroless: glibc and CA certificates, no shell, no package
# manager, user 65532 ("nonroot"); only the binary is copied in (the SQL is compiled into it).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
ARG BOXOFFICE_GIT_SHA=unknown
ENV BOXOFFICE_GIT_SHA=${BOXOFFICE_GIT_SHA}
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin boxoffice \
    && cp target/release/boxoffice /usr/local/bin/boxoffice

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/boxoffice /usr/local/bin/boxoffice
USER 65532:65532
# The API, and /metrics when BOXOFFICE_METRICS_ADDR=0.0.0.0:9090 (as in k8s/).
EXPOSE 8080 9090
ENV BOXOFFICE_LISTEN_ADDR=0.0.0.0:8080 \
    BOXOFFICE_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/boxoffice"]
CMD ["serve", "--routes", "all"]
