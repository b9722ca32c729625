// The admin API as the dashboard calls it: the token from session storage
// as the bearer header, JSON in and out, and every failure an APIError
// whose message is for people (the API's error.message), never raw JSON.

const KEY = "swiper.admin.token";

// APIError is a failed call: HTTP status (0: the server was not reached),
// the API's code, name, field and message.
export class APIError extends Error {
  constructor(status, body, fallback) {
    const e = (body && typeof body === "object" && body.error) || {};
    super(typeof e.message === "string" && e.message ? e.message : fallback);
    this.status = status;
    this.code = e.code || 0;
    this.errorName = e.name || "";
    this.field = e.field || "";
  }
}

export function token() {
  return sessionStorage.getItem(KEY) || "";
}

export function setToken(t) {
  sessionStorage.setItem(KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

let unauthorized = () => {};

// onUnauthorized sets what happens when the API refuses the token (401):
// the token is forgotten first.
export function onUnauthorized(fn) {
  unauthorized = fn;
}

async function send(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new APIError(0, null, "The server could not be reached. Is the node running?");
  }
  if (resp.status === 401) {
    clearToken();
    const err = new APIError(401, null, "The admin token was not accepted.");
    unauthorized(err);
    throw err;
  }
  return resp;
}

async function readJSON(resp) {
  const text = await resp.text();
  if (!text) {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// call sends a JSON request and returns the decoded reply.
export async function call(method, path, body) {
  const resp = await send(method, path, body);
  const data = await readJSON(resp);
  if (!resp.ok) {
    throw new APIError(resp.status, data, `The request failed (HTTP ${resp.status}).`);
  }
  return data;
}

// metrics returns the node's Prometheus exposition text.
export async function metrics() {
  const resp = await send("GET", "/metrics");
  if (!resp.ok) {
    throw new APIError(resp.status, await readJSON(resp), `Metrics could not be read (HTTP ${resp.status}).`);
  }
  return resp.text();
}

export const api = {
  cluster: () => call("GET", "/admin/v1/cluster"),
  actors: () => call("GET", "/admin/v1/actors"),
  config: () => call("GET", "/admin/v1/config"),
  saveConfig: (patch) => call("PUT", "/admin/v1/config", patch),
  failedUploads: () => call("GET", "/admin/v1/uploads?status=failed"),
  retryUpload: (id) => call("POST", `/admin/v1/uploads/${id}/retry`, {}),
  openReports: () => call("GET", "/admin/v1/reports?status=open"),
  resolveReport: (id, action) => call("POST", `/admin/v1/reports/${id}/resolve`, { action }),
  user: (id) => call("GET", `/admin/v1/users/${id}`),
  actor: (id) => call("GET", `/admin/v1/users/${id}/actor`),
  setVIP: (id, level) => call("PUT", `/admin/v1/users/${id}/vip`, { level }),
  mintToken: (id) => call("POST", `/admin/v1/users/${id}/token`, {}),
};
