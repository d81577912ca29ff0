// Command ferretdb runs FerretDB v1.24 embedded, as the MongoDB-compatible
// server for MLP's tests. The upstream cmd/ferretdb binary panics when built
// from the module proxy (build/version/version.txt is not in the module zip);
// the embeddable package skips that check.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "", "directory for SQLite databases (required)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-sqlite-dir is required")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}

	// The embedded package keeps its state in memory (no state file, so nothing
	// lands in the checkout) and switches telemetry off itself.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/", // must be a directory URL ending in "/"
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		log.Fatal(err)
	}

	// Stop cleanly on SIGTERM/SIGINT so SQLite files are closed.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Printf("ferretdb listening on %s", f.MongoDBURI())
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
