# Build: cgo is needed for the embedded SQLite driver.
FROM golang:1.26-bookworm AS build
# Go 1.26.8 has known vulnerabilities in net/http, crypto/x509 and
# html/template: build with the approved newer toolchain.
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/oshirase .

# Run: a small Debian base (glibc for the cgo binary), a non-root user, and
# the database on a volume. Templates, assets and the zone database are
# embedded in the binary.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data oshirase \
    && mkdir /data && chown oshirase /data
COPY --from=build /out/oshirase /usr/local/bin/oshirase
USER oshirase
WORKDIR /data
VOLUME /data
ENV OSHIRASE_ADDR=0.0.0.0:8080 \
    OSHIRASE_DATABASE=sqlite:/data/oshirase.db
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/oshirase", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/oshirase"]
CMD ["serve"]
