// The WebSocket stream: opened with a one-time ticket, resumed with `since`
// at the stored cursor after every drop (backoff 0.5 s doubling to 15 s), so
// nothing is missed and nothing comes twice. Every frame is handed on as the
// bus event `frame:<type>` once the cursor has moved past it; what a frame
// changes is decided by its subscribers, not here.
import { API, api, enc } from './api.js';
import { emit } from './bus.js';
import { advance, state } from './store.js';

let ws = null;
let backoff = 500;
let connecting = false;

function reconnectLater() {
  emit('stream:lost');
  setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 15000);
}

// The stream is opened with a one-time ticket, never with the access token
// in the URL (where proxies log it and the browser keeps it in history).
// Does nothing when signed out or already open (or opening).
export async function connect() {
  if (!state.token || ws || connecting) return;
  connecting = true;
  let ticket;
  try {
    ticket = (await api('POST', '/stream/tickets')).ticket;
  } catch (e) {
    connecting = false;
    if (state.token && e.status !== 401) reconnectLater();
    return;
  }
  connecting = false;
  if (!state.token || ws) return;
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const since = state.cursor ? `&since=${state.cursor}` : '';
  const socket = new WebSocket(`${proto}://${location.host}${API}/stream?ticket=${enc(ticket)}${since}`);
  ws = socket;
  socket.onopen = () => { backoff = 500; };
  socket.onmessage = (m) => onFrame(JSON.parse(m.data));
  socket.onclose = (e) => {
    ws = null;
    if (!state.token) return;
    if (e.code === 4002) { emit('session-ended', 'Your session ended. Please log in again.'); return; }
    reconnectLater();
  };
}

// Closes the stream for good (signing out): no reconnect follows.
export function disconnect() {
  if (ws) { ws.onclose = null; ws.close(); ws = null; }
}

export function isOpen() { return Boolean(ws) && ws.readyState === 1; }

// Sends a client frame (e.g. typing); the caller checks isOpen() first.
export function send(frame) { ws.send(JSON.stringify(frame)); }

function onFrame(f) {
  if (f.type === 'ready') advance(f.stream_pos);
  else if (f.type === 'event') advance(f.event.stream_pos);
  emit(`frame:${f.type}`, f);
}
