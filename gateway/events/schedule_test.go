package events

import (
	"testing"
	"time"
)

func TestQueuesRoundRobinAndLimit(t *testing.T) {
	t.Parallel()
	s := newQueues(2, 2) // one job per URL at a time
	e1, e2 := &queued{remaining: 2}, &queued{remaining: 2}
	s.add(e1)
	s.add(e2)

	j := s.peek()
	if j == nil || j.q != e1 || j.ep != 0 {
		t.Fatalf("first: %+v", j)
	}
	s.start(j)
	k := s.peek()
	if k == nil || k.q != e1 || k.ep != 1 {
		t.Fatalf("second: want e1 for URL 1, got %+v", k)
	}
	s.start(k)
	if x := s.peek(); x != nil {
		t.Fatalf("both URLs at their limit, got %+v", x)
	}
	s.finish(k) // URL 1 free again; URL 0 still busy (hanging, say)
	if x := s.peek(); x == nil || x.q != e2 || x.ep != 1 {
		t.Fatalf("URL 1 must go on while URL 0 is busy, got %+v", x)
	}
}

func TestQueuesRetryOrder(t *testing.T) {
	t.Parallel()
	s := newQueues(1, 4)
	now := time.Now()
	a := &job{q: &queued{}, due: now.Add(2 * time.Second)}
	b := &job{q: &queued{}, due: now.Add(time.Second)}
	s.wait(a)
	s.wait(b)
	if due, ok := s.nextDue(); !ok || !due.Equal(b.due) {
		t.Fatalf("nextDue = %v, %v", due, ok)
	}
	s.promote(now)
	if s.peek() != nil {
		t.Fatal("promoted a job before it was due")
	}
	s.add(&queued{})
	s.promote(now.Add(time.Second))
	if len(s.ready[0]) != 2 || s.ready[0][1] != b {
		t.Fatalf("due job must join the back of the FIFO: %v", s.ready[0])
	}
	s.promote(now.Add(2 * time.Second))
	if len(s.later) != 0 || s.ready[0][2] != a {
		t.Fatal("a not promoted")
	}
	if all := s.drain(); len(all) != 3 || s.peek() != nil {
		t.Fatalf("drain: %d jobs", len(all))
	}
}
