// Command devenv supervises the three local nodes of `make cluster`;
// devenv.sh, beside it, finds or starts the PostgreSQL, Redis and etcd they
// use.
//
//	devenv cluster [-dev .dev] [-swiperd bin/swiperd] NODEFILE...
//	                 start one swiperd per node file, each logging to
//	                 .dev/logs/NAME.log and, a line at a time behind its name,
//	                 to the terminal, its pid in .dev/NAME.pid; wait until
//	                 every node answers /readyz, say where they serve, start
//	                 again a node that exits with a failure status (swiperd
//	                 exits 1 when it has fenced itself), and run until SIGINT
//	                 or SIGTERM, then stop them all.
//	devenv stop [-dev .dev] NODEFILE...
//	                 stop what `devenv cluster` started (the supervisor, then
//	                 any node its pid file names), and say what it stopped and
//	                 what answers on a node's ports that it did not start.
//
// It uses the standard library and a YAML parser only: the node files are
// read for their name and addresses, not validated (swiperd does that).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const usage = `usage:
  devenv cluster [-dev DIR] [-swiperd PATH] [-ready-timeout D] [-stop-wait D] NODEFILE...
  devenv stop [-dev DIR] [-stop-wait D] NODEFILE...
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	fs := flag.NewFlagSet("devenv "+os.Args[1], flag.ExitOnError)
	dev := fs.String("dev", ".dev", "the dev directory: pid files, logs/, admin-token")
	stopWait := fs.Duration("stop-wait", 20*time.Second, "how long a node may take to stop after SIGTERM before it is killed")
	switch os.Args[1] {
	case "cluster":
		swiperd := fs.String("swiperd", "bin/swiperd", "the node binary, run as PATH -config NODEFILE")
		ready := fs.Duration("ready-timeout", 2*time.Minute, "how long the nodes may take to answer /readyz")
		fs.Parse(os.Args[2:])
		nodes, err := readNodeFiles(fs.Args())
		if err != nil {
			fail(err)
		}
		// SIGINT is Ctrl-C; SIGTERM is make stop (or the user's kill);
		// SIGHUP a closed terminal. The nodes, in process groups of their
		// own, hear none of these from the terminal: the supervisor stops
		// them, in its own time.
		// A terminal or pipe gone (make cluster | less, quit) fails the
		// writes of node lines instead of killing the supervisor, which
		// still copies them into the logs and still stops the nodes.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer cancel()
		s := &supervisor{
			dev: *dev, swiperd: *swiperd, nodes: nodes,
			out:          newSyncWriter(os.Stdout),
			readyTimeout: *ready, stopWait: *stopWait,
		}
		if err := s.run(ctx); err != nil {
			fail(err)
		}
	case "stop":
		fs.Parse(os.Args[2:])
		nodes, err := readNodeFiles(fs.Args())
		if err != nil {
			fail(err)
		}
		if err := stop(os.Stderr, *dev, nodes, *stopWait); err != nil {
			fail(err)
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "devenv:", err)
	os.Exit(1)
}
