package user

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
)

// outbox delivers one actor's messages to other user actors, one at a time
// and in order, each by request with retry, to the actors that are active. Order matters: a Liked followed
// by an Unliked (a rewind) must not arrive the other way round. Retrying
// matters because a plain Send to a grain that just passivated vanishes.
// Every message is also backed by the database: if all attempts fail, the
// receiver's cache is stale only until its next activation.
type outbox struct {
	mu      sync.Mutex
	queue   []tellMsg
	running bool
}

type tellMsg struct {
	to  int64
	msg proto.Message
}

// tell queues msg for user to's actor.
func (g *grain) tell(to int64, msg proto.Message) {
	if g.out == nil {
		g.out = &outbox{}
	}
	o := g.out
	o.mu.Lock()
	o.queue = append(o.queue, tellMsg{to, msg})
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		// Ends when the queue is empty; every send in it is bounded by
		// TellAttempts × TellTimeout.
		go o.drain(g.d, g.c, g.uid)
	}
}

func (o *outbox) drain(d *Deps, c *cluster.Cluster, from int64) {
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			o.running = false
			o.queue = nil
			o.mu.Unlock()
			return
		}
		m := o.queue[0]
		o.queue = o.queue[1:]
		o.mu.Unlock()
		if c == nil {
			continue
		}
		id := strconv.FormatInt(m.to, 10)
		ci := cluster.NewClusterIdentity(id, Kind)
		if d.Placement != nil {
			// Only an active actor needs telling, wherever it is: one that
			// is not loads the change from the database when it activates.
			// Activating every liked user to tell it would cost a load per
			// like. A reply error means the actor stopped meanwhile (or its
			// node died); its next activation loads the change.
			if pid := d.Placement.ActivePID(ci); pid != nil {
				c.ActorSystem.Root.RequestFuture(pid, m.msg, d.TellTimeout).Wait()
			}
			continue
		}
		// TellAttempts × TellTimeout bounds the delivery, each attempt one
		// TellTimeout, with CallBackoff's waits between: a node that just
		// died takes about a second to leave the topology. A told message is
		// safe to deliver twice, so a timed-out attempt is retried too.
		deadline := time.Now().Add(time.Duration(max(d.TellAttempts, 1)) * d.TellTimeout)
		_, _, err := request(context.Background(), c, nil, CallBackoff, m.to, m.msg, deadline, d.TellTimeout)
		if err != nil {
			d.Log.Warn("could not tell a user actor; it will reload from the database",
				"from", from, "to", m.to, "message", string(m.msg.ProtoReflect().Descriptor().Name()), "err", err)
		}
	}
}
