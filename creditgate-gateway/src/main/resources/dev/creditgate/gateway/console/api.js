// Calls to the admin API, as any client makes them; the session cookie authorizes them, and a
// state-changing call repeats the session's CSRF token in a header.
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const PREFIX = '/admin/v1';

export class ApiError extends Error {
  constructor(status, message, param) {
    super(message);
    this.status = status;
    this.param = param;
  }
}

export async function api(method, path, body, headers = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (method !== 'GET') h['X-CSRF-Token'] = CSRF;
  const res = await fetch(PREFIX + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 401) {
    window.location.assign('/console/sign-in');
    throw new ApiError(401, 'signed out');
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    json = null;
  }
  if (!res.ok) {
    const err = json && json.error ? json.error : {};
    throw new ApiError(res.status, err.message || res.statusText || 'request failed', err.param);
  }
  return json;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const role = document.querySelector('meta[name="operator-role"]').content;
export const canChange = role === 'operator';
