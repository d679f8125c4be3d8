# syntax=docker/dockerfile:1
# Build: the same static binary as `make build` (CGO off, trimmed paths).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/todo-api ./cmd/todo-api

# Run: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/todo-api /usr/local/bin/todo-api
USER nonroot:nonroot
ENV PORT=8000
EXPOSE 8000
# The image has no curl: the binary checks itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["todo-api", "healthcheck"]
ENTRYPOINT ["todo-api"]
CMD ["serve"]
