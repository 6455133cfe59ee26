# syntax=docker/dockerfile:1
# The s3ftp image: a static binary on a distroless base, running as the
# unprivileged user 65532 with no shell. Build: docker build -t s3ftp:TAG .
# (--build-arg VERSION=TAG sets `s3ftp version`). Deploy: helm/s3ftp.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that source edits reuse the download layer.
COPY go.mod go.sum ./
COPY third_party/ third_party/
RUN go mod download
COPY . .
ARG VERSION=""
# Pure Go (SQLite is modernc.org/sqlite): no cgo, no libc at run time.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/s3ftp ./cmd/s3ftp

# static-debian12: CA certificates, tzdata and /etc/passwd, nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/s3ftp /usr/local/bin/s3ftp
USER 65532:65532
# users.db (SQLite) and state; the chart mounts a volume here.
WORKDIR /var/lib/s3ftp
# 2121 FTP control, 8080 admin API and probes; the passive range is
# configured (passive-ports) and published by the chart.
EXPOSE 2121 8080
ENTRYPOINT ["/usr/local/bin/s3ftp"]
# Without arguments (docker run): the embedded store, FTP on every address of
# the container. The chart passes `serve --config FILE` instead.
CMD ["serve", "--data-dir", "/var/lib/s3ftp", "--ftp-listen", "0.0.0.0:2121"]
