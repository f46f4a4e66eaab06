// The HTTP API client: JSON in and out, the session's Bearer token, and the
// errors the views show (err.message from the server, err.status, err.reason).
import { emit } from './bus.js';
import { state } from './store.js';

export const API = '/api/v1';

// A group address or event id as one path segment.
export const enc = (id) => encodeURIComponent(id);

// Calls the API. A 401 on anything but /auth/* means the session is over:
// session-ended is emitted (the sign-in page shows) before the call throws.
export async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (res.status === 401 && state.token && !path.startsWith('/auth/')) {
    emit('session-ended', 'Your session ended. Please log in again.');
  }
  if (!res.ok) {
    const err = new Error(data.error ? data.error.message : `HTTP ${res.status}`);
    err.status = res.status;
    err.reason = data.error && data.error.reason;
    throw err;
  }
  return data;
}
