// live.js: the one WebSocket a signed-in app keeps open. It resumes from
// the last event seen (kept per user in localStorage, so a reload or a
// dropped socket loses nothing), reconnects with backoff, and carries
// requests with ids so their responses find their callers.

import { ApiError, token } from "./api.js";

const RETRYABLE_AFTER_MS = [500, 1000, 2000, 4000, 8000, 15000];

export class Live {
  constructor(userID, { onEvent, onState, onRevoked, onFailing }) {
    this.onFailing = onFailing || (() => {});
    this.key = "swiper.seq." + userID;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onRevoked = onRevoked;
    this.pending = new Map(); // request id -> {resolve, reject, timer}
    this.next = 1;
    this.failures = 0;
    this.closed = false;
    this.ws = null;
    this.timer = 0;
  }

  // seq is this tab's own last event (another tab of the same user reads
  // the same stream: sharing one counter would make each skip the
  // other's events); localStorage keeps the highest any tab saw, for the
  // next page load to resume from.
  get seq() {
    if (this.last === undefined) this.last = Number(localStorage.getItem(this.key) || 0);
    return this.last;
  }

  set seq(n) {
    this.last = n;
    if (n > Number(localStorage.getItem(this.key) || 0)) localStorage.setItem(this.key, String(n));
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
    this.ws = null;
    this.failAll(new ApiError(0, null));
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + location.host + "/api/v1/ws?token=" + encodeURIComponent(token());
    const ws = new WebSocket(url);
    this.ws = ws;
    this.onState("connecting");
    ws.onopen = () => {
      this.failures = 0;
      ws.send(JSON.stringify({ type: "resume", after: this.seq }));
      this.onState("open");
    };
    ws.onmessage = (m) => this.frame(m.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failAll(new ApiError(0, null));
      if (this.closed) return;
      if (e.code === 4001) {
        this.closed = true;
        this.onState("closed");
        this.onRevoked();
        return;
      }
      this.onState("reconnecting");
      const base = RETRYABLE_AFTER_MS[Math.min(this.failures, RETRYABLE_AFTER_MS.length - 1)];
      this.failures++;
      // A refused upgrade (a token revoked while the socket was down) is
      // only a 1006 here: after a few, the caller asks the API why.
      if (this.failures % 3 === 2) this.onFailing();
      // Jitter, so a node's sockets do not all come back at once.
      this.timer = setTimeout(() => this.connect(), base / 2 + Math.random() * base);
    };
  }

  frame(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (f.type === "event") {
      if (f.seq <= this.seq) return; // seen already (a replay overlapping)
      this.seq = f.seq;
      this.onEvent(f.event, f.data || {}, f);
    } else if (f.type === "response") {
      const p = this.pending.get(f.id);
      if (!p) return;
      this.pending.delete(f.id);
      clearTimeout(p.timer);
      if (f.error) p.reject(new ApiError(400, { error: f.error }));
      else p.resolve(f.result || {});
    }
  }

  // call sends a request over the socket; it rejects if the socket is
  // not open, so callers can fall back to HTTP.
  call(method, params, timeoutMs = 10000) {
    if (!this.open) {
      const err = new ApiError(0, null);
      err.unsent = true; // safe to send another way
      return Promise.reject(err);
    }
    const id = "c" + this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError(0, null));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ type: "request", id, method, params }));
    });
  }

  failAll(err) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
