// Avatars: the small picture next to a sender's name and in the member
// list, and the picker in the profile dialog that sets one's own.
//
// A user's avatar is `avatar_media_id` of their profile (GET /users/{id});
// any signed-in user may read it (spec/media.md, section 3). Profiles are
// cached for PROFILE_TTL_MS: the node sends no event when someone changes
// their avatar, so others see the change within that time (or at a
// reload); one's own change shows at once. Without an avatar (or while it
// loads, or for a remote user whose node does not answer) the initial of
// the user's name is shown instead. The picture is the 96 px thumbnail,
// through ../media.js like every other image.
import { api, enc } from '../api.js';
import { formatSize, loadedUrl, objectUrl, uploadErrorText, uploadFile } from '../media.js';
import { state } from '../store.js';
import { button, el } from './elements.js';
import { addSenderPart } from './message.js';
import { renderTimeline } from './timeline.js';

const PROFILE_TTL_MS = 5 * 60 * 1000;
const MAX_PROFILES = 1000;
const profiles = new Map();  // user_id -> {at, promise, value}

function profileOf(userId) {
  const had = profiles.get(userId);
  if (had && Date.now() - had.at < PROFILE_TTL_MS) return had;
  const entry = { at: Date.now(), value: had ? had.value : undefined, promise: null };
  entry.promise = api('GET', `/users/${enc(userId)}`).then((p) => { entry.value = p; return p; }, () => {
    entry.value = entry.value || null;
    return entry.value;
  });
  profiles.delete(userId);
  profiles.set(userId, entry);
  if (profiles.size > MAX_PROFILES) profiles.delete(profiles.keys().next().value);
  return entry;
}

// The first letter of a user's name (the local part of @name:server).
const initial = (userId) => (userId.replace(/^@/, '')[0] || '?').toUpperCase();

function setPicture(span, mediaId) {
  const img = el('img');
  img.alt = '';
  img.width = span.dataset.size;
  img.height = span.dataset.size;
  const url = loadedUrl(mediaId, 96, img);
  const show = (u) => { img.src = u; span.replaceChildren(img); span.classList.add('has-picture'); };
  if (url) show(url);
  else objectUrl(mediaId, 96, img).then(show).catch(() => { /* the initial stays */ });
}

// The avatar of `userId`, `size` px square: decorative (the name is next to
// it), so hidden from screen readers; the initial is drawn by CSS from
// data-initial, so the name's element keeps its text as it was.
export function avatarNode(userId, size = 24) {
  const span = el('span', 'avatar');
  span.dataset.user = userId;
  span.dataset.size = String(size);
  span.style.width = span.style.height = `${size}px`;
  span.setAttribute('aria-hidden', 'true');
  span.dataset.initial = initial(userId);
  const entry = profileOf(userId);
  if (entry.value !== undefined) {
    if (entry.value && entry.value.avatar_media_id) setPicture(span, entry.value.avatar_media_id);
  } else {
    entry.promise.then((p) => { if (p && p.avatar_media_id) setPicture(span, p.avatar_media_id); });
  }
  return span;
}

// ------------------------------------------------------------------ the profile dialog's picker

function setOwn(profile) {
  state.me = profile;
  profiles.set(profile.user_id, { at: Date.now(), value: profile, promise: Promise.resolve(profile) });
  renderTimeline(false);
}

// The avatar part of the profile dialog: the current picture, a button to
// upload a new one (set as soon as it is uploaded) and one to remove it.
export function avatarPicker() {
  const box = el('div', 'avatar-picker');
  const current = el('div', 'avatar-current');
  const status = el('p', 'avatar-status');
  status.setAttribute('role', 'status');
  const input = el('input');
  input.type = 'file';
  input.accept = 'image/png,image/jpeg,image/webp,image/gif';
  input.hidden = true;
  input.id = 'avatar-input';
  const choose = button('Upload a picture', '', () => input.click());
  choose.id = 'avatar-upload';
  const remove = button('Remove picture');
  remove.id = 'avatar-remove';
  const refresh = () => {
    current.replaceChildren(avatarNode(state.me.user_id, 48));
    remove.hidden = !state.me.avatar_media_id;
  };
  const save = async (mediaId) => {
    setOwn(await api('PATCH', '/me', { avatar_media_id: mediaId }));
    refresh();
  };
  input.onchange = async () => {
    const file = input.files[0];
    input.value = '';
    if (!file) return;
    status.textContent = `Uploading ${file.name} (${formatSize(file.size)})…`;
    choose.disabled = true;
    let item;
    try {
      item = await uploadFile(file, (sent, total) => {
        status.textContent = `Uploading ${file.name}: ${total ? Math.floor((sent / total) * 100) : 0}%`;
      }).promise;
      await save(item.media_id);
      status.textContent = 'Picture saved.';
    } catch (err) {
      status.textContent = item ? `The picture was not saved: ${err.message}` : uploadErrorText(file, err);
    } finally {
      choose.disabled = false;
    }
  };
  remove.onclick = async () => {
    try { await save(null); status.textContent = 'Picture removed.'; } catch (err) { status.textContent = err.message; }
  };
  const label = el('span', '', 'Picture');
  const row = el('div', 'row');
  row.append(current, choose, remove);
  box.append(label, row, status, input);
  refresh();
  return box;
}

export function mount() {
  addSenderPart((ev) => avatarNode(ev.sender));
}
