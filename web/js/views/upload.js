// Attaching files: the composer's Attach button, files dropped onto the
// conversation, and files pasted into the message box (a pasted screenshot
// is an image file). Each file is uploaded at once (POST /media, raw bytes)
// with a progress bar and a Cancel button in the upload tray above the
// composer; when the node has it, a message carrying its media_id goes to
// the outbox (../outbox.js), which delivers it like any other message.
// Cancel aborts the upload: nothing is sent. A refused upload (413
// payload_too_large or quota_exceeded, 400 invalid_media, ...) stays in the
// tray with a sentence saying why, until dismissed.
//
// Uploads belong to the group that was open when they started; the tray
// shows those of the group on screen.
import { on } from '../bus.js';
import { $ } from '../dom.js';
import { formatSize, uploadErrorText, uploadFile } from '../media.js';
import { enqueue } from '../outbox.js';
import { state } from '../store.js';
import { button, el } from './elements.js';

let tray = null;
let input = null;

// A pasted image gets a name of its own (the clipboard calls every one
// "image.png").
function pastedName(file) {
  if (file.name && file.name !== 'image.png') return file;
  const ext = (file.type.split('/')[1] || 'png').replace('jpeg', 'jpg');
  const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ').replace(/:/g, '.');
  return new File([file], `Pasted image ${stamp}.${ext}`, { type: file.type });
}

// Shows the uploads of the group on screen; a reader at the bottom of the
// timeline stays there as the tray grows.
function showTray() {
  const tl = $('timeline');
  const atBottom = tl.scrollHeight - tl.scrollTop - tl.clientHeight < 60;
  for (const li of tray.children) li.hidden = li.dataset.group !== state.current;
  tray.hidden = ![...tray.children].some((li) => !li.hidden);
  if (atBottom) tl.scrollTop = tl.scrollHeight;
}

// Uploads `files` to the group on screen, each then sent as a message.
export function attachFiles(files) {
  const groupId = state.current;
  if (!groupId) return;
  for (const f of files) upload(f, groupId);
}

function upload(file, groupId) {
  const name = file.name;
  const li = el('li', 'upload');
  li.dataset.group = groupId;
  const label = el('span', 'upload-name', `${name} (${formatSize(file.size)})`);
  const bar = el('progress');
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute('aria-label', `Uploading ${name}`);
  const note = el('span', 'upload-note', '0%');
  const job = uploadFile(file, (sent, total) => {
    const pct = total ? Math.min(100, Math.floor((sent / total) * 100)) : 0;
    bar.value = pct;
    note.textContent = pct < 100 ? `${pct}%` : 'processing…';
  });
  const cancel = button('Cancel', `Cancel upload of ${name}`, () => job.abort());
  li.append(label, bar, note, cancel);
  tray.append(li);
  showTray();
  job.promise.then((item) => {
    li.remove();
    showTray();
    enqueue({ txn: `web-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`, group_id: groupId, body: '',
      media_id: item.media_id, at: Date.now() });
  }).catch((err) => {
    if (err.aborted) { li.remove(); showTray(); return; }
    li.classList.add('failed');
    const msg = el('span', 'upload-error', uploadErrorText(file, err));
    msg.setAttribute('role', 'alert');
    li.replaceChildren(msg, button('Dismiss', `Dismiss the error about ${name}`, () => { li.remove(); showTray(); $('message').focus(); }));
    showTray();
  });
}

// Files in a DataTransfer (drop or paste), or none.
function filesOf(dt) {
  if (!dt) return [];
  const files = [...(dt.files || [])];
  if (files.length) return files;
  return [...(dt.items || [])].filter((i) => i.kind === 'file').map((i) => i.getAsFile()).filter(Boolean);
}

const carriesFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');

export function mount() {
  // The Attach button and its file input, before Send.
  input = el('input');
  input.type = 'file';
  input.id = 'attach-input';
  input.multiple = true;
  input.hidden = true;
  input.tabIndex = -1;
  input.onchange = () => { attachFiles([...input.files]); input.value = ''; };
  const attach = button('Attach', 'Attach files', () => input.click());
  attach.id = 'attach';
  attach.title = 'Attach files (or drop them here, or paste an image)';
  $('composer').insertBefore(attach, $('send'));
  $('composer').append(input);

  tray = el('ul', 'uploads');
  tray.id = 'uploads';
  tray.setAttribute('aria-label', 'Uploads');
  tray.hidden = true;
  $('composer').before(tray);
  on('group-opened', showTray);

  // Dropping files anywhere on the conversation.
  const room = $('room');
  let depth = 0;  // dragenter/dragleave also fire for the room's children
  room.addEventListener('dragenter', (e) => {
    if (!carriesFiles(e) || !state.current) return;
    e.preventDefault();
    depth++;
    room.classList.add('dropping');
  });
  room.addEventListener('dragover', (e) => {
    if (!carriesFiles(e) || !state.current) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  room.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; room.classList.remove('dropping'); } });
  room.addEventListener('drop', (e) => {
    depth = 0;
    room.classList.remove('dropping');
    const files = filesOf(e.dataTransfer);
    if (!files.length || !state.current) return;
    e.preventDefault();
    attachFiles(files);
  });
  // Anywhere else (or with no group open), a dropped file would replace the
  // page with itself: refuse it.
  const elsewhere = (e) => carriesFiles(e) && !(state.current && room.contains(e.target));
  window.addEventListener('dragover', (e) => {
    if (!elsewhere(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'none';
  });
  window.addEventListener('drop', (e) => { if (elsewhere(e)) e.preventDefault(); });

  // Pasting files (a screenshot) into the message box.
  $('message').addEventListener('paste', (e) => {
    const files = filesOf(e.clipboardData);
    if (!files.length) return;
    e.preventDefault();
    attachFiles(files.map(pastedName));
  });
}
