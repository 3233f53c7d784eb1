# The p8fs binary (`p8fs serve` is the HTTP KV proxy), built in one stage and run from a
# small Debian image in another. Build: docker build -t p8fs .
# Run:   docker run -p 8080:8080 -v p8fs-data:/data p8fs serve --listen 0.0.0.0:8080 --auth-tokens /etc/p8fs/tokens

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p p8fs-cli \
 && install -D target/release/p8fs /out/p8fs

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home p8fs
COPY --from=build /out/p8fs /usr/local/bin/p8fs
USER p8fs
ENV P8FS_DATA_DIR=/data P8FS_LISTEN=0.0.0.0:8080 P8FS_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/p8fs"]
CMD ["serve"]
