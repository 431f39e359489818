// Command natsd runs a NATS server with JetStream on the loopback interface
// until SIGINT or SIGTERM, so benchmarks can measure the process under test
// apart from the server it publishes to.
//
// When it accepts connections it prints one line, "listening on URL", on
// stdout.
//
//	natsd -port 0 -store /tmp/js
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/slspipe/slspipe/connectors/nats/natsserver"
)

func main() {
	port := flag.Int("port", 0, "client port on 127.0.0.1; 0 picks a free one")
	store := flag.String("store", "", "JetStream store directory; a temporary one, removed on exit, when empty")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := natsserver.Start(natsserver.Options{Port: *port, StoreDir: *store})
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", srv.URL())
	<-ctx.Done()
	srv.Shutdown()
}
