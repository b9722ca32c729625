// api.js: the client API over fetch. Every failure becomes an ApiError
// whose message is for people (API.md "Errors"), never raw JSON.

const TOKEN = "swiper.token";

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || fallback(status));
    this.status = status;
    this.code = e.code || 0;
    this.kind = e.name || "error"; // API.md "name": stable, for code
    this.field = e.field || "";
    this.requiredLevel = e.required_level || 0;
  }
}

function fallback(status) {
  if (status === 0) return "The server cannot be reached. Check your connection and try again.";
  if (status >= 500) return "Something went wrong on our side. Please try again in a moment.";
  return "The request failed (HTTP " + status + ").";
}

export function token() {
  return localStorage.getItem(TOKEN) || "";
}

export function setToken(t) {
  if (t) localStorage.setItem(TOKEN, t);
  else localStorage.removeItem(TOKEN);
}

// onLoggedOut is called when the server no longer knows our token.
let loggedOut = () => {};
export function onLoggedOut(fn) {
  loggedOut = fn;
}

async function decode(resp) {
  const text = await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export async function api(method, path, body) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch("/api/v1" + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null);
  }
  const data = await decode(resp);
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (err.code === 1002 && t) loggedOut(err);
    throw err;
  }
  return data || {};
}

// upload posts an avatar as multipart form data, reporting progress
// (0..1) as it goes; fetch cannot report upload progress, XHR can.
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("avatar", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/me/avatar");
    xhr.setRequestHeader("Authorization", "Bearer " + token());
    xhr.responseType = "text";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: reported by status */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data || {});
      else {
        const err = new ApiError(xhr.status, data);
        if (err.code === 1002) loggedOut(err);
        reject(err);
      }
    };
    xhr.send(form);
  });
}
