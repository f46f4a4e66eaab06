// The console's Media page: uploads with filters (uploader, group, type,
// size), paged newest first; the biggest uploaders by bytes stored (a click
// filters the list by that user); and per upload a Quarantine button (every
// download of it answers 404 from then on) or Release to undo it. Both are
// audited by the node (media.quarantine, media.unquarantine; see the Audit
// log tab). Over GET /api/v1/admin/media, GET /api/v1/admin/media/uploaders
// and POST/DELETE /api/v1/admin/media/{media_id}/quarantine.
//
// The console shows no previews: an admin may not read media of groups they
// are not in (spec/media.md, section 3), and quarantine is decided from the
// name, type, size and uploader.
import { api, button, cell, enc, flash, fmt, registerPage } from './console.js';

const MB = 1048576;
const PAGE = 50;
let before = null;  // next_before of the page shown last

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < MB) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / MB).toFixed(1)} MB`;
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

function labelled(text, control) {
  return el('label', {}, text, control);
}

// The page's controls, built once into <section id="media">.
const f = {
  uploader: el('input', { id: 'media-uploader', placeholder: '@user:server', autocomplete: 'off', spellcheck: false }),
  group: el('input', { id: 'media-group', placeholder: '#group:server', autocomplete: 'off', spellcheck: false }),
  type: el('select', { id: 'media-type' }),
  min: el('input', { id: 'media-min', type: 'number', min: 0, step: 'any', inputMode: 'decimal' }),
  max: el('input', { id: 'media-max', type: 'number', min: 0, step: 'any', inputMode: 'decimal' }),
};
for (const [value, text] of [['', 'any'], ['image/', 'images'], ['video/', 'video'], ['audio/', 'audio'],
  ['application/', 'documents and other files'], ['text/', 'text']]) {
  f.type.append(el('option', { value, textContent: text }));
}
const rows = el('tbody', { id: 'media-rows' });
const more = el('button', { type: 'button', id: 'media-more', textContent: 'Older uploads', hidden: true });
const empty = el('p', { id: 'media-empty', hidden: true, textContent: 'No upload matches.' });
const uploaderRows = el('tbody', { id: 'uploader-rows' });
const form = el('form', { id: 'media-filter', className: 'row' },
  labelled('Uploader', f.uploader), labelled('Group', f.group), labelled('Type', f.type),
  labelled('Min MB', f.min), labelled('Max MB', f.max),
  el('button', { type: 'submit', textContent: 'Filter' }),
  el('button', { type: 'reset', textContent: 'Clear' }));

function table(headers, body) {
  const tr = el('tr');
  for (const h of headers) tr.append(el('th', { textContent: h }));
  return el('table', {}, el('thead', {}, tr), body);
}

document.getElementById('media').append(
  el('h2', { textContent: 'Biggest uploaders' }),
  table(['User', 'Uploads', 'Stored', ''], uploaderRows),
  el('h2', { textContent: 'Uploads' }),
  form,
  el('div', { className: 'scroll' }, table(['File', 'Type', 'Size', 'Uploader', 'Uploaded', 'Status', 'Media id', 'Actions'], rows)),
  empty, more);

// The list's query from the filter form; throws a readable error.
function query() {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (f.uploader.value.trim()) q.set('uploader', f.uploader.value.trim());
  if (f.group.value.trim()) q.set('group', f.group.value.trim());
  if (f.type.value) q.set('type', f.type.value);
  for (const [key, input] of [['min_size', f.min], ['max_size', f.max]]) {
    if (input.value === '') continue;
    const mb = Number(input.value);
    if (!(mb >= 0)) throw new Error('Sizes are megabytes, 0 or more.');
    q.set(key, String(Math.round(mb * MB)));
  }
  return q;
}

function mediaRow(m) {
  const tr = el('tr');
  tr.dataset.media = m.media_id;
  cell(tr, m.filename || '—');
  cell(tr, m.content_type);
  cell(tr, formatSize(m.size)).style.whiteSpace = 'nowrap';
  cell(tr, m.uploader);
  cell(tr, fmt(m.created_at)).style.whiteSpace = 'nowrap';
  const st = cell(tr, m.quarantined ? 'quarantined' : 'available');
  st.className = m.quarantined ? 'pill off' : 'pill';
  cell(tr, m.media_id).className = 'key';
  const a = cell(tr, '');
  const name = m.filename || m.media_id;
  if (m.quarantined) {
    button(a, 'Release', () => setQuarantine(m, false, `${name} released`)).setAttribute('aria-label', `Release ${name}`);
  } else {
    button(a, 'Quarantine', async () => {
      if (!confirm(`Quarantine ${name} (uploaded by ${m.uploader})? Nobody can download it any more until it is released.`)) return;
      await setQuarantine(m, true, `${name} quarantined`);
    }).setAttribute('aria-label', `Quarantine ${name}`);
  }
  return tr;
}

async function setQuarantine(m, on, done) {
  const path = `/admin/media/${enc(m.media_id)}/quarantine`;
  const r = await api(on ? 'POST' : 'DELETE', path);
  m.quarantined = r.quarantined;
  const tr = rows.querySelector(`tr[data-media="${CSS.escape(m.media_id)}"]`);
  if (tr) tr.replaceWith(mediaRow(m));
  flash(done);
}

async function loadList(fresh) {
  const q = query();
  if (fresh) before = null;
  if (before) q.set('before', before);
  const r = await api('GET', `/admin/media?${q}`);
  if (fresh) rows.replaceChildren();
  for (const m of r.media) rows.append(mediaRow(m));
  before = r.next_before;
  more.hidden = !before;
  empty.hidden = rows.children.length > 0;
}

async function loadUploaders() {
  const r = await api('GET', '/admin/media/uploaders?limit=10');
  uploaderRows.replaceChildren();
  for (const u of r.uploaders) {
    const tr = el('tr');
    tr.dataset.user = u.user_id;
    cell(tr, u.user_id);
    cell(tr, String(u.count));
    cell(tr, formatSize(u.bytes));
    button(cell(tr, ''), 'Show uploads', async () => {
      f.uploader.value = u.user_id;
      await loadList(true);
    }).setAttribute('aria-label', `Show uploads of ${u.user_id}`);
    uploaderRows.append(tr);
  }
  if (!r.uploaders.length) uploaderRows.append(el('tr', {}, el('td', { colSpan: 4, textContent: 'Nobody has uploaded anything yet.' })));
}

const report = (e) => { if (e.message !== 'unauthorized') flash(e.message); };
form.onsubmit = (e) => { e.preventDefault(); loadList(true).catch(report); };
form.onreset = () => { setTimeout(() => loadList(true).catch(report)); };  // after the fields are cleared
more.onclick = () => loadList(false).catch(report);

registerPage('media', async () => { await Promise.all([loadUploaders(), loadList(true)]); });
