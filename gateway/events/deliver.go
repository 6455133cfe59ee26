package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxDrain is how much of a response body is read (and discarded) so that
// the connection can be reused.
const maxDrain = 64 << 10

// result is the outcome of one POST.
type result struct {
	status     int           // 0 when err is set
	err        error         // transport error: connection, timeout
	retryAfter time.Duration // from a Retry-After header, 0 if none
}

// delivered reports whether the receiver accepted the event.
func (r result) delivered() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// retryable reports whether another attempt may succeed: transport errors
// and timeouts, 408, 429 and 5xx. Any other status (3xx, 4xx) is the
// receiver's final word.
func (r result) retryable() bool {
	return r.err != nil || r.status == http.StatusRequestTimeout ||
		r.status == http.StatusTooManyRequests || r.status >= 500
}

// worker makes one attempt for each job the scheduler hands it and hands
// the job back.
func (n *Notifier) worker() {
	for j := range n.work {
		n.attempt(j)
		n.results <- j
	}
}

// attempt POSTs j's event to j's URL once, then logs, counts and sets
// j.state (and j.due for a retry).
func (n *Notifier) attempt(j *job) {
	ep, ev := n.eps[j.ep], j.q.ev
	j.attempts++
	r := n.post(ep, j.q)
	if r.err != nil && n.ctx.Err() != nil {
		j.state = jobAborted // shutdown cut it short: dropped, not failed
		return
	}
	if r.delivered() {
		j.state = jobDone
		n.metrics.EventDelivered(ep.label, j.attempts, time.Since(j.q.accepted))
		n.log.Debug("event delivered", "id", ev.ID, "type", ev.Type, "url", ep.label, "status", r.status, "attempt", j.attempts)
		return
	}
	log := n.log.With("id", ev.ID, "type", ev.Type, "key", ev.Key, "url", ep.label, "attempt", j.attempts)
	if r.err != nil {
		log = log.With("err", r.err.Error())
	} else {
		log = log.With("status", r.status)
	}
	if r.retryable() && j.attempts < n.cfg.MaxAttempts {
		delay := retryDelay(n.cfg.Backoff, j.attempts, r.retryAfter)
		j.state, j.due = jobRetry, time.Now().Add(delay)
		log.Warn("event delivery failed, will retry", "retry_in", delay.Round(time.Millisecond).String())
		return
	}
	j.state = jobDone
	permanent := !r.retryable()
	n.metrics.EventFailed(ep.label, permanent)
	log.Warn("event delivery failed, giving up", "permanent", permanent)
}

// post sends q to ep once, within Config.Timeout. Errors never contain the
// URL (it may hold credentials).
func (n *Notifier) post(ep endpoint, q *queued) result {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(q.body))
	if err != nil {
		return result{err: errors.New("cannot build request")} // URLs are validated: not reached
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "s3ftp")
	h.Set(HeaderEvent, q.ev.Type)
	h.Set(HeaderDelivery, q.ev.ID)
	h.Set(HeaderTimestamp, ts)
	if n.cfg.Secret != "" {
		h.Set(HeaderSignature, Sign(n.cfg.Secret, ts, q.body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue.Error() repeats the URL
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || (ue != nil && ue.Timeout()) {
			err = fmt.Errorf("timeout (%s): %w", n.cfg.Timeout, err)
		}
		return result{err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	return result{status: resp.StatusCode, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}
