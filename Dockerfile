# Build stage: the same toolchain as development, release profile.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin hopwatch

# Runtime stage: a slim Debian with CA certificates (for https checks and
# webhooks), running as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/hopwatch --create-home --shell /usr/sbin/nologin hopwatch
COPY --from=build /src/target/release/hopwatch /usr/local/bin/hopwatch
COPY config/hopwatch.yaml /etc/hopwatch/hopwatch.yaml
USER hopwatch
WORKDIR /var/lib/hopwatch
ENV HOPWATCH_CONFIG=/etc/hopwatch/hopwatch.yaml
EXPOSE 8080
ENTRYPOINT ["hopwatch"]
CMD ["run"]
