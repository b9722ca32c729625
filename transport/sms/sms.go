// Package sms sends login codes to phones. Console prints them to the log,
// for development; Webhook posts them to an SMS gateway over HTTP.
//
// It depends on the root package only.
package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/swiperhq/swiper"
)

// Console writes each code to the log on a line containing
// "phone=<E.164> code=<6 digits>". It is for development only.
type Console struct {
	Logger *slog.Logger
}

var _ swiper.SMSSender = (*Console)(nil)

// SendCode logs the code. The phone and code are written into the message
// itself, so the line reads the same in text and JSON logs, and at warning
// level, so it shows at any log level but error.
func (c *Console) SendCode(ctx context.Context, phone, code string) error {
	c.Logger.WarnContext(ctx, "login code (console SMS provider, dev only): phone="+phone+" code="+code)
	return nil
}

// Webhook posts {"phone": ..., "code": ...} as JSON to URL, the endpoint of
// an SMS gateway or of a small adapter in front of one. Any answer but 2xx,
// or none within Timeout, is a failure to send.
type Webhook struct {
	URL     string
	Timeout time.Duration // 5 s if zero
	Client  *http.Client  // http.DefaultClient if nil
}

var _ swiper.SMSSender = (*Webhook)(nil)

// SendCode posts the code to the gateway.
func (w *Webhook) SendCode(ctx context.Context, phone, code string) error {
	const op = "sms.Webhook"
	timeout := w.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"phone": phone, "code": code})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return &swiper.Error{Code: swiper.ESMSFailed, Op: op, Message: "could not send the code", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// Not the *url.Error itself: the gateway's URL may carry a key.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &swiper.Error{Code: swiper.ESMSFailed, Op: op, Message: "could not send the code", Err: err}
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &swiper.Error{Code: swiper.ESMSFailed, Op: op, Message: "could not send the code", Err: fmt.Errorf("gateway answered %s", resp.Status)}
	}
	return nil
}
