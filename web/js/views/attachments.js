// What a message with a media_id shows under its body: an image preview
// (a thumbnail in a box of the image's proportions, so nothing jumps when it
// arrives; a click opens it full size), a player for audio and video
// (loaded when asked to play), or a file card with name, size and a
// Download button. Plugged into message.js with addMessagePart().
//
// The timeline is rebuilt on every event; the node made for an attachment is
// kept and handed out again (keyed by event and media id), so a playing
// video keeps playing and a shown picture is not fetched again. What a
// message carries is only the media_id: the name, type, size and
// dimensions come from GET /media/{id}/info (../media.js caches it, and an
// upload's answer seeds it, so the sender's own message reserves its size
// at once; others see a placeholder of a default size until it is known).
import { downloadMedia, formatSize, isImage, isPlayable, knownInfo, loadedUrl, mediaInfo, objectUrl, signedUrl } from '../media.js';
import { button, el } from './elements.js';
import { openLightbox } from './lightbox.js';
import { addMessagePart } from './message.js';
import { alertStatus } from './status.js';

const PREVIEW_MAX = 320;  // CSS px: the preview fits in PREVIEW_MAX x PREVIEW_MAX
const MAX_NODES = 300;
const nodes = new Map();  // `${event_id}|${media_id}` -> Element, the newest used last

// The thumbnail rendition for this screen (the node snaps it to 96/320/800).
const thumbVariant = () => (window.devicePixelRatio > 1.5 ? 800 : PREVIEW_MAX);

// The preview's size: the image scaled down to fit PREVIEW_MAX, never up.
function fit(w, h) {
  if (!(w > 0 && h > 0)) return [PREVIEW_MAX, Math.round(PREVIEW_MAX * 0.75)];
  const s = Math.min(1, PREVIEW_MAX / w, PREVIEW_MAX / h);
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
}

const nameOf = (item) => item.filename || 'file';

function downloadButton(item) {
  return button('Download', `Download ${nameOf(item)}`,
    () => downloadMedia(item).catch((e) => alertStatus(`Download of ${nameOf(item)} failed: ${e.message}`)));
}

function unavailable(box, name, err) {
  box.className = 'attachment unavailable';
  box.textContent = err.status === 404
    ? `${name ? `“${name}”` : 'This attachment'} is not available (removed, quarantined, or not yours to see).`
    : `Could not load ${name ? `“${name}”` : 'the attachment'}: ${err.message}`;
}

function imagePreview(box, item) {
  const name = nameOf(item);
  const [w, h] = fit(item.width, item.height);
  const open = button('', `Open ${name} full size`, () => openLightbox(item));
  open.className = 'thumb';
  const img = el('img');
  img.alt = name;
  img.width = w;
  img.height = h;
  open.append(img);
  box.append(open);
  const variant = thumbVariant();
  const url = loadedUrl(item.media_id, variant, img);
  if (url) { img.src = url; return; }
  box.classList.add('loading');
  objectUrl(item.media_id, variant, img)
    .then((u) => { img.src = u; box.classList.remove('loading'); })
    .catch((e) => unavailable(box, name, e));
}

// A card with the file's name and size; audio and video get a Play button
// that puts a player streaming from a signed link in the card. A link
// lives minutes: when one runs out during a long playback the element
// errors, and gets a new link at the same position (at most a few times in
// a row, so a file that is gone for good stays an error).
function streamInto(player, id, name) {
  let renewals = 0;
  player.addEventListener('playing', () => { renewals = 0; });
  player.addEventListener('error', () => {
    if (renewals >= 3) { alertStatus(`Could not play ${name}`); return; }
    renewals += 1;
    const at = player.currentTime;
    const wasPlaying = !player.paused;
    signedUrl(id).then((u) => {
      player.src = u;
      player.currentTime = at;
      if (wasPlaying) player.play().catch(() => { /* the user presses play */ });
    }).catch((e) => alertStatus(`Could not play ${name}: ${e.message}`));
  });
}

function fileCard(box, item) {
  const name = nameOf(item);
  const kind = item.content_type.split('/')[0];
  const media = (kind === 'audio' || kind === 'video') && isPlayable(item.content_type);
  const card = el('div', 'file-card');
  // A badge with the file's extension (or its kind): no icon font needed.
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(name);
  const icon = el('span', `file-icon ${kind}`, (ext ? ext[1] : kind === 'application' ? 'file' : kind).toUpperCase());
  icon.setAttribute('aria-hidden', 'true');
  const text = el('div', 'file-text');
  text.append(el('span', 'file-name', name), el('span', 'file-meta', `${item.content_type.split(';')[0]} · ${formatSize(item.size)}`));
  card.append(icon, text);
  const actions = el('div', 'file-actions');
  if (media) {
    const play = button('Play', `Play ${name}`, () => {
      play.disabled = true;
      play.textContent = 'Loading…';
      const player = el(kind);
      player.controls = true;
      player.preload = 'metadata';
      player.setAttribute('aria-label', name);
      signedUrl(item.media_id).then((u) => {
        player.src = u;
        streamInto(player, item.media_id, name);
        play.replaceWith();
        box.append(player);
        player.play().catch(() => { /* the user presses play */ });
        player.focus();
      }).catch((e) => { play.disabled = false; play.textContent = 'Play'; alertStatus(`Could not play ${name}: ${e.message}`); });
    });
    actions.append(play);
  }
  actions.append(downloadButton(item));
  card.append(actions);
  box.append(card);
}

function fill(box, item) {
  box.classList.remove('loading');
  box.dataset.type = item.content_type;
  if (isImage(item.content_type)) imagePreview(box, item); else fileCard(box, item);
}

// Runs `change` (which may make the timeline taller) and keeps a reader who
// was at the bottom of the timeline there.
function keepingBottom(change) {
  const tl = document.getElementById('timeline');
  const atBottom = tl && tl.scrollHeight - tl.scrollTop - tl.clientHeight < 60;
  change();
  if (atBottom) tl.scrollTop = tl.scrollHeight;
}

function attachment(key, id) {
  const box = el('div', 'attachment');
  box.dataset.mediaId = id;
  const item = knownInfo(id);
  if (item) { fill(box, item); return box; }
  box.classList.add('loading');
  box.textContent = 'Loading attachment…';
  mediaInfo(id).then((i) => keepingBottom(() => { box.textContent = ''; fill(box, i); })).catch((e) => {
    if (e.status !== 404) nodes.delete(key);  // try again at the next render
    unavailable(box, null, e);
  });
  return box;
}

// Forgets nodes no longer in the page, oldest first, past MAX_NODES.
function trim() {
  for (const [key, node] of nodes) {
    if (nodes.size <= MAX_NODES) return;
    if (!node.isConnected) nodes.delete(key);
  }
}

function part(ev) {
  const id = ev.content && ev.content.media_id;
  if (typeof id !== 'string' || !id) return null;
  const key = `${ev.event_id}|${id}`;
  let node = nodes.get(key);
  if (node) nodes.delete(key); else node = attachment(key, id);
  nodes.set(key, node);
  trim();
  return node;
}

export function mount() {
  addMessagePart(part);
}
