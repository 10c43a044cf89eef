# Each target is a one-liner that README.md also shows without make.
.PHONY: run test test-postgres bench lint

run:
	go run . serve

test:
	go test ./...

test-postgres:
	OSHIRASE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test go test ./...

bench:
	go run ./internal/bench

lint:
	gofmt -l . && go vet ./...
