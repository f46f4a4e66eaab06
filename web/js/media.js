// Media in the browser: uploads with progress, item metadata, the blob URL
// cache through which images are shown, and the signed links through which
// audio and video stream.
//
// Why blob URLs: an <img src> or <video src> cannot send the Bearer token,
// and the node puts no token in URLs (spec/media.md, section 5). So the
// client fetches the bytes itself, with its token, and shows them through
// URL.createObjectURL. A blob URL belongs to this page's origin, so one is
// only ever made for the types the node re-encodes or plays passively
// (PLAYABLE below); every other file is offered as a download, typed
// application/octet-stream so that nothing can render it. Audio and video
// are not fetched whole: the client asks the node for a short-lived signed
// link (POST /media/{id}/url) and gives it to the <audio>/<video> element,
// which streams with Range requests, whatever the file's size.
//
// The cache: the timeline is rebuilt on every event, so the same picture is
// asked for again and again; each URL is kept while an element that shows it
// is in the page, and for GRACE_MS after the last one left (scrolling back,
// switching groups and back), then revoked. The whole cache is bounded by
// MAX_BYTES and MAX_ENTRIES: past them, entries nothing shows are revoked
// first, oldest use first. Fetches revalidate (`cache: 'no-cache'`): the
// node's answer is 304 while the reader may still read the item, and 404
// once it is quarantined or the reader lost access, even if the browser's
// HTTP cache holds the bytes.
import { API } from './api.js';
import { emit } from './bus.js';
import { state } from './store.js';

const MAX_BYTES = 96 * 1024 * 1024;
const MAX_ENTRIES = 400;
const GRACE_MS = 60 * 1000;
const PLAYABLE = /^(image\/(jpeg|png|webp|gif)|video\/(mp4|webm|quicktime)|audio\/(mpeg|ogg|mp4|wav))$/;
export const isImage = (type) => /^image\/(jpeg|png|webp|gif)$/.test(type || '');
export const isPlayable = (type) => PLAYABLE.test(type || '');

// A media_id (`server/opaque`) as one path segment, as the node accepts it.
export const mediaPath = (id) => `/media/${encodeURIComponent(id)}`;

export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

// An Error from an API answer: message, status and code as the node sent them.
function apiError(status, data) {
  const e = new Error(data && data.error ? data.error.message : `HTTP ${status}`);
  e.status = status;
  e.code = data && data.error ? data.error.code : undefined;
  return e;
}

async function authorizedFetch(path, init = {}) {
  const res = await fetch(API + path, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${state.token}` } });
  if (res.status === 401) emit('session-ended', 'Your session ended. Please log in again.');
  return res;
}

// A signed link to the item's bytes for a media element (spec/media.md 5):
// valid for a few minutes, for this user only; rejects with the API error.
export async function signedUrl(id) {
  const res = await authorizedFetch(`${mediaPath(id)}/url`, { method: 'POST' });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw apiError(res.status, data);
  return data.url;
}

// ------------------------------------------------------------------ metadata

const infos = new Map();  // media_id -> Promise<MediaItem>, the newest used last
const MAX_INFOS = 1000;

// The item's metadata (GET /media/{id}/info) once per page; rejects with
// the API error (404: gone, quarantined, or not ours to read).
export function mediaInfo(id) {
  let p = infos.get(id);
  if (p) { infos.delete(id); infos.set(id, p); return p; }
  p = authorizedFetch(`${mediaPath(id)}/info`).then(async (res) => {
    const data = await res.json().catch(() => null);
    if (!res.ok) throw apiError(res.status, data);
    p.value = data;
    return data;
  });
  p.catch(() => infos.delete(id));  // a later render asks again
  remember(id, p);
  return p;
}

// The metadata if it is already here (so a render can reserve its size).
export function knownInfo(id) {
  const p = infos.get(id);
  return p ? p.value : undefined;
}

// Records metadata the client already has (an upload's answer).
export function rememberInfo(item) {
  const p = Promise.resolve(item);
  p.value = item;
  remember(item.media_id, p);
}

function remember(id, p) {
  infos.set(id, p);
  if (infos.size > MAX_INFOS) infos.delete(infos.keys().next().value);
}

// ------------------------------------------------------------------ blob URLs

const blobs = new Map();  // key -> {url, size, users: Set<Element>, lastShown, loading}
let cachedBytes = 0;

// The key of one rendition: 'original' or a thumbnail size.
const keyOf = (id, variant) => `${variant}|${id}`;
const pathOf = (id, variant) => (variant === 'original' ? mediaPath(id) : `${mediaPath(id)}/thumbnail?size=${variant}`);

// The blob URL of an item's rendition (`variant`: 'original' or a thumbnail
// size in px), shown by `el`. Resolves once the bytes are here; rejects with
// the API error, or when the node answers a type that must not get a blob
// URL (see above).
export function objectUrl(id, variant, el) {
  const key = keyOf(id, variant);
  let entry = blobs.get(key);
  if (!entry) {
    entry = { url: null, size: 0, users: new Set(), lastShown: Date.now(), loading: null };
    entry.loading = load(id, variant, entry).catch((e) => { blobs.delete(key); throw e; });
    blobs.set(key, entry);
  }
  if (el) entry.users.add(el);
  entry.lastShown = Date.now();
  return entry.loading;
}

// The blob URL if it is already loaded (for a synchronous render), marking
// `el` as a user of it.
export function loadedUrl(id, variant, el) {
  const entry = blobs.get(keyOf(id, variant));
  if (!entry || !entry.url) return null;
  if (el) entry.users.add(el);
  entry.lastShown = Date.now();
  return entry.url;
}

async function load(id, variant, entry) {
  const res = await authorizedFetch(pathOf(id, variant), { cache: 'no-cache' });
  if (!res.ok) throw apiError(res.status, await res.json().catch(() => null));
  const type = (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  if (!isPlayable(type)) throw apiError(415, { error: { message: `not shown inline: ${type || 'no type'}` } });
  const blob = await res.blob();
  entry.url = URL.createObjectURL(blob);
  entry.size = blob.size;
  cachedBytes += blob.size;
  sweep();
  return entry.url;
}

// `el` no longer shows what it showed (it stays in the page, e.g. the
// lightbox after closing).
export function release(el) {
  for (const e of blobs.values()) e.users.delete(el);
}

// Revokes what nothing shows any more: after GRACE_MS, or at once (oldest
// use first) while the cache is over its bounds. `now` is the clock (tests
// pass a later one).
export function sweep(now = Date.now()) {
  const idle = [];
  for (const [key, e] of blobs) {
    if (!e.url) continue;
    for (const el of e.users) if (!el.isConnected) e.users.delete(el);
    if (e.users.size) e.lastShown = now;
    else idle.push([key, e]);
  }
  idle.sort((a, b) => a[1].lastShown - b[1].lastShown);
  for (const [key, e] of idle) {
    const over = cachedBytes > MAX_BYTES || blobs.size > MAX_ENTRIES;
    if (!over && now - e.lastShown < GRACE_MS) continue;
    URL.revokeObjectURL(e.url);
    cachedBytes -= e.size;
    blobs.delete(key);
  }
}
setInterval(() => sweep(), 15000);

// How many blob URLs are alive (tests read it through the page).
export const cacheStats = () => ({ entries: blobs.size, bytes: cachedBytes });

// ------------------------------------------------------------------ download

// Saves an item as a file named like the upload, through a blob URL that
// only lives for the click. Anything that is not an image or a player type
// is typed application/octet-stream, so the browser only ever saves it.
export async function downloadMedia(item) {
  const res = await authorizedFetch(mediaPath(item.media_id), { cache: 'no-cache' });
  if (!res.ok) throw apiError(res.status, await res.json().catch(() => null));
  let blob = await res.blob();
  if (!isPlayable(blob.type.split(';')[0])) blob = new Blob([blob], { type: 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = item.filename || 'download';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);  // the save has started long before
}

// ------------------------------------------------------------------ upload

// Uploads `file` (POST /media?filename=, the raw bytes) with progress
// (`onProgress(sent, total)`). Returns {promise, abort}: the promise
// resolves to the MediaItem, or rejects with the API error (err.code:
// payload_too_large, quota_exceeded, invalid_media, ...) or, after abort(),
// with err.aborted set. XMLHttpRequest because fetch has no upload progress.
export function uploadFile(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', `${API}/media?filename=${encodeURIComponent(file.name || 'file')}`);
    xhr.setRequestHeader('Authorization', `Bearer ${state.token}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');  // a hint only
    xhr.upload.onprogress = (e) => { if (onProgress) onProgress(e.loaded, e.lengthComputable ? e.total : file.size); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 401) emit('session-ended', 'Your session ended. Please log in again.');
      if (xhr.status >= 200 && xhr.status < 300 && data) { rememberInfo(data); resolve(data); } else reject(apiError(xhr.status, data));
    };
    xhr.onerror = () => reject(apiError(0, { error: { code: 'network', message: 'the connection to the server failed' } }));
    xhr.onabort = () => { const e = new Error('cancelled'); e.aborted = true; reject(e); };
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

// A sentence for the user about a failed upload of `file`.
export function uploadErrorText(file, err) {
  const name = `“${file.name || 'file'}”`;
  switch (err.code) {
    case 'payload_too_large':
      return `${name} is too large to upload (${formatSize(file.size)}): ${err.message}.`;
    case 'quota_exceeded':
      return `${name} would take you over your storage quota: ${err.message}.`;
    case 'invalid_media':
      return `${name} could not be read as an image: ${err.message}.`;
    case 'network':
      return `${name} was not uploaded: ${err.message}. Check the connection and try again.`;
    default:
      return `${name} was not uploaded: ${err.message}.`;
  }
}
