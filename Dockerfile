# syntax=docker/dockerfile:1
#
# stagegate with pg_dump and pg_restore of PostgreSQL 17, for `stagegate migrate apply` (and
# `backup`, `status`, `lint`) from a deploy step. pg_dump 17 dumps servers of PostgreSQL 17
# and older; a server newer than 17 needs a newer image.
#
# The image copies the static binary of the musl build; it compiles nothing. From the
# repository's root:
#
#   cargo build --profile dist --locked --target x86_64-unknown-linux-musl
#   docker build -t stagegate .
#
# For linux/arm64, build aarch64-unknown-linux-musl and add --platform linux/arm64 (both
# binaries present: --platform linux/amd64,linux/arm64). .github/workflows/release.yml
# builds and publishes it from the release's binaries.
#
#   docker run --rm -v "$PWD:/work" --user "$(id -u):$(id -g)" \
#     -e PRODUCTION_DATABASE_URL stagegate migrate apply --env production ...

FROM alpine:3.22.2@sha256:4b7ce07002c69e8f3d704a9c5d6fd3053be500b7f1c69fc0d80990c2ad8dd412

# The PostgreSQL client programs (pg_dump, pg_restore, psql) of one major version; the build
# fails if the package ever brings another.
RUN apk add --no-cache postgresql17-client \
 && pg_dump --version | grep -q '^pg_dump (PostgreSQL) 17\.' \
 && pg_restore --version | grep -q '^pg_restore (PostgreSQL) 17\.' \
 && addgroup -S -g 10001 stagegate \
 && adduser -S -D -H -u 10001 -G stagegate stagegate

# The binary of the platform being built: target/<triple>/dist/stagegate in the build
# context (.dockerignore lets in nothing else).
ARG TARGETARCH
RUN --mount=type=bind,source=target,target=/context/target \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-musl ;; \
      arm64) triple=aarch64-unknown-linux-musl ;; \
      *) echo "no stagegate build for $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && binary="/context/target/$triple/dist/stagegate" \
 && { [ -f "$binary" ] || { echo "$binary is missing: run cargo build --profile dist --locked --target $triple first" >&2; exit 1; }; } \
 && install -m 0755 "$binary" /usr/local/bin/stagegate \
 && stagegate --version

USER stagegate
WORKDIR /work
ENTRYPOINT ["stagegate"]
CMD ["--help"]
