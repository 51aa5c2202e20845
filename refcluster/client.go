package refcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to the cluster's HTTP API. Any node will do: followers
// forward to the leader.
type Client struct {
	hc *http.Client
}

// NewClient returns a client whose requests time out after timeout.
func NewClient(timeout time.Duration) *Client {
	return &Client{hc: &http.Client{Timeout: timeout}}
}

// ErrUnknownOutcome marks a write whose effect is unknown: the request may
// or may not have been applied (timeout, leadership lost mid-commit).
var ErrUnknownOutcome = errors.New("outcome unknown")

// ErrRejected marks a request that definitely had no effect.
var ErrRejected = errors.New("rejected")

func (c *Client) do(ctx context.Context, method, addr, key, value string) (KVResult, error) {
	var body io.Reader
	if method == http.MethodPut {
		body = strings.NewReader(value)
	}
	var res KVResult
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+"/kv/"+url.PathEscape(key), body)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// A request whose connection was never established was never
		// sent, so it had no effect; any later failure leaves the outcome
		// unknown.
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return res, fmt.Errorf("%w: %v", ErrRejected, err)
		}
		return res, fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, fmt.Errorf("%w: decode response: %v", ErrUnknownOutcome, err)
	}
	if resp.StatusCode != http.StatusOK {
		if res.Definite {
			return res, fmt.Errorf("%w: %s", ErrRejected, res.Error)
		}
		return res, fmt.Errorf("%w: HTTP %d: %s", ErrUnknownOutcome, resp.StatusCode, res.Error)
	}
	return res, nil
}

// Put writes key=value through the node at addr.
func (c *Client) Put(ctx context.Context, addr, key, value string) (KVResult, error) {
	return c.do(ctx, http.MethodPut, addr, key, value)
}

// Get reads key linearizably through the node at addr.
func (c *Client) Get(ctx context.Context, addr, key string) (KVResult, error) {
	return c.do(ctx, http.MethodGet, addr, key, "")
}

// Delete removes key through the node at addr.
func (c *Client) Delete(ctx context.Context, addr, key string) (KVResult, error) {
	return c.do(ctx, http.MethodDelete, addr, key, "")
}
