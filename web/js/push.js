// Desktop notifications through Web Push: this browser subscribes at its push
// service with the node's VAPID public key, and the subscription is
// registered at the node as a `webpush` pusher (POST /api/v1/me/pushers with
// the PushSubscription's JSON). The node then pushes each inbox entry to the
// push service, which wakes the service worker (web/sw.js) to show it.
// No DOM: the profile dialog (views/notify_prefs.js) shows what this says,
// and every error thrown here has a message meant for the user.
import { api, enc } from './api.js';

const PUSHER_KEY = 'gc.pusher';  // localStorage: pusher_id of this browser's subscription

// Whether this browser can do it at all (a secure context with a service
// worker, the Push API and notifications). The UI hides itself otherwise.
export function pushSupported() {
  return window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function userError(text) { return new Error(text); }

// The node's VAPID public key as bytes. The field is `public_key` (spec/
// openapi.yaml); `key` is accepted too.
async function vapidKey() {
  let r;
  try {
    r = await api('GET', '/push/vapid-public-key');
  } catch (e) {
    if (e.status === 404) throw userError('This server does not offer desktop notifications.');
    throw userError(`Could not read the server's push key: ${e.message}`);
  }
  const text = r.public_key || r.key || r.vapid_public_key;
  if (typeof text !== 'string' || !text) throw userError("The server's answer has no push key.");
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function registration() {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  return navigator.serviceWorker.ready;
}

const sameBytes = (a, b) => a && b && a.byteLength === b.byteLength &&
  new Uint8Array(a).every((x, i) => x === new Uint8Array(b)[i]);

// The node's pusher of `sub` (by the id kept here, else by its endpoint).
async function pusherOf(sub) {
  const r = await api('GET', '/me/pushers');
  const kept = Number(localStorage.getItem(PUSHER_KEY) || 0);
  return r.pushers.find((p) => p.pusher_id === kept) ||
    r.pushers.find((p) => sub && (p.endpoint === sub.endpoint || p.url === sub.endpoint)) || null;
}

// 'unsupported' | 'blocked' (the user refused notifications to this site) |
// 'on' (subscribed and registered at the node) | 'off'.
export async function pushState() {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'blocked';
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = reg && await reg.pushManager.getSubscription();
  if (!sub || Notification.permission !== 'granted') return 'off';
  return (await pusherOf(sub)) ? 'on' : 'off';
}

// Asks for permission, subscribes and registers the pusher. Throws an Error
// whose message says what went wrong and what the user can do.
export async function enablePush() {
  if (!pushSupported()) throw userError('This browser cannot show desktop notifications.');
  const permission = await Notification.requestPermission();
  if (permission === 'denied') {
    throw userError('Notifications are blocked for this site. Allow them in the browser\'s site settings, then try again.');
  }
  if (permission !== 'granted') throw userError('Notifications were not allowed.');
  const key = await vapidKey();
  const reg = await registration();
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameBytes(sub.options.applicationServerKey, key)) {  // the node's key changed
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) {
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch (e) {
      throw userError(`The browser's push service refused the subscription (${e.message}).`);
    }
  }
  const json = sub.toJSON();
  try {
    const p = await api('POST', '/me/pushers', { kind: 'webpush', endpoint: json.endpoint, keys: json.keys });
    localStorage.setItem(PUSHER_KEY, String(p.pusher_id));
  } catch (e) {
    await sub.unsubscribe().catch(() => {});
    throw userError(`The server did not accept this browser: ${e.message}`);
  }
}

// Removes the pusher at the node and the browser's subscription. Does
// nothing when there is none.
export async function disablePush() {
  if (!pushSupported()) return;
  const reg = await navigator.serviceWorker.getRegistration('/');
  const sub = reg && await reg.pushManager.getSubscription();
  const p = await pusherOf(sub);
  if (p) {
    try { await api('DELETE', `/me/pushers/${enc(String(p.pusher_id))}`); } catch (e) { if (e.status !== 404) throw e; }
  }
  localStorage.removeItem(PUSHER_KEY);
  if (sub) await sub.unsubscribe();
}
