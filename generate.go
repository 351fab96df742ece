package main

//go:generate go run ./cmd/gqlgen --config gqlgen.yml --in-order Contact
