package events

import (
	"container/heap"
	"time"
)

// jobState is what a worker's attempt left a job in.
type jobState int

const (
	jobDone    jobState = iota // delivered, or given up for good
	jobRetry                   // to be tried again at due
	jobAborted                 // cut short by shutdown
)

// job is the delivery of one event to one URL.
type job struct {
	q        *queued
	ep       int       // index into Notifier.eps
	attempts int       // attempts made so far
	due      time.Time // when a jobRetry may be tried again
	state    jobState
}

// queues is the scheduler's state: jobs ready per URL, jobs waiting for a
// retry, and how many of each URL's jobs are with workers. It is owned by
// the scheduler goroutine.
type queues struct {
	ready    [][]*job // per URL, FIFO
	inflight []int    // per URL
	busy     int      // sum of inflight
	limit    int      // most jobs of one URL in flight at once
	rr       int      // URL to look at first: round robin
	later    retryHeap
}

func newQueues(urls, workers int) *queues {
	return &queues{
		ready:    make([][]*job, urls),
		inflight: make([]int, urls),
		limit:    max(1, workers/urls),
	}
}

// add makes one ready job per URL for q.
func (s *queues) add(q *queued) {
	for i := range s.ready {
		s.ready[i] = append(s.ready[i], &job{q: q, ep: i})
	}
}

// peek returns the job to hand out next, nil if none may start now: the
// oldest ready job of the first URL, round robin, below its limit.
func (s *queues) peek() *job {
	for k := range len(s.ready) {
		i := (s.rr + k) % len(s.ready)
		if len(s.ready[i]) > 0 && s.inflight[i] < s.limit {
			return s.ready[i][0]
		}
	}
	return nil
}

// start records that j, returned by peek, went to a worker.
func (s *queues) start(j *job) {
	i := j.ep
	s.ready[i][0] = nil
	s.ready[i] = s.ready[i][1:]
	if len(s.ready[i]) == 0 {
		s.ready[i] = nil // let the drained array go
	}
	s.inflight[i]++
	s.busy++
	s.rr = (i + 1) % len(s.ready)
}

// finish records that a worker handed j back.
func (s *queues) finish(j *job) {
	s.inflight[j.ep]--
	s.busy--
}

// wait parks j until j.due.
func (s *queues) wait(j *job) { heap.Push(&s.later, j) }

// nextDue returns when the earliest parked job is due, if any.
func (s *queues) nextDue() (time.Time, bool) {
	if len(s.later) == 0 {
		return time.Time{}, false
	}
	return s.later[0].due, true
}

// promote moves the parked jobs due at now to the back of their URL's FIFO.
func (s *queues) promote(now time.Time) {
	for len(s.later) > 0 && !s.later[0].due.After(now) {
		j := heap.Pop(&s.later).(*job)
		s.ready[j.ep] = append(s.ready[j.ep], j)
	}
}

// drain removes and returns every ready and parked job.
func (s *queues) drain() []*job {
	var all []*job
	for i, r := range s.ready {
		all = append(all, r...)
		s.ready[i] = nil
	}
	all = append(all, s.later...)
	s.later = nil
	return all
}

// retryHeap orders parked jobs by due time (container/heap).
type retryHeap []*job

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(*job)) }
func (h *retryHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return j
}

// schedule is the scheduler goroutine: it takes published events, hands
// jobs to workers, parks retries and, once Close was called, returns when
// nothing is held; on abort it drops what is left and returns.
func (n *Notifier) schedule() {
	s := newQueues(len(n.eps), n.cfg.Workers)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	closing := n.closing
	for {
		if closing == nil && n.pending.Load() == 0 {
			return // closed (no Publish can add) and everything settled
		}
		next := s.peek()
		var work chan<- *job
		if next != nil {
			work = n.work
		}
		var due <-chan time.Time
		if t, ok := s.nextDue(); ok {
			timer.Reset(time.Until(t)) // Go 1.23+: no stale tick after Reset
			due = timer.C
		}
		select {
		case q := <-n.pub:
			s.add(q)
		case work <- next:
			s.start(next)
		case j := <-n.results:
			s.finish(j)
			if j.state == jobRetry {
				s.wait(j)
			} else {
				n.settle(j)
			}
		case <-due:
			s.promote(time.Now())
		case <-closing:
			closing = nil
		case <-n.abort:
			n.shutdown(s)
			return
		}
	}
}

// shutdown cancels the requests in flight, waits for the workers to hand
// their jobs back and drops every job not delivered.
func (n *Notifier) shutdown(s *queues) {
	n.cancel()
	for s.busy > 0 {
		j := <-n.results
		s.finish(j)
		if j.state == jobRetry {
			j.state = jobAborted
		}
		n.settle(j)
	}
	for _, j := range s.drain() {
		j.state = jobAborted
		n.settle(j)
	}
	for {
		select {
		case q := <-n.pub:
			for i := range n.eps {
				n.settle(&job{q: q, ep: i, state: jobAborted})
			}
		default:
			return
		}
	}
}

// settle ends job j: an aborted job drops its event (logged and counted
// once per event); the event is released when its last job ends.
func (n *Notifier) settle(j *job) {
	q := j.q
	if j.state == jobAborted && !q.dropped {
		q.dropped = true
		n.dropped++
		n.log.Warn("event dropped", "id", q.ev.ID, "type", q.ev.Type, "key", q.ev.Key, "reason", DropShutdown)
		n.metrics.EventDropped(q.ev.Type, DropShutdown)
	}
	q.remaining--
	if q.remaining == 0 {
		n.pending.Add(-1)
	}
}
