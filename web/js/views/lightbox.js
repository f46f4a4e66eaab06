// The full-size view of an image: a modal <dialog> over the page (Escape,
// the Close button or a click beside the picture closes it, and focus goes
// back to the thumbnail that opened it), with the file's name and a
// Download button. The picture is the original, fetched like every other
// image (../media.js: with the token, shown through a blob URL).
import { downloadMedia, formatSize, objectUrl, release } from '../media.js';
import { button, el } from './elements.js';
import { alertStatus } from './status.js';

let dialog = null;
let parts = null;
let opened = 0;  // which openLightbox() call the dialog shows

function build() {
  dialog = el('dialog', 'lightbox');
  dialog.id = 'lightbox';
  dialog.setAttribute('aria-labelledby', 'lightbox-title');
  const title = el('h2');
  title.id = 'lightbox-title';
  const meta = el('span', 'lightbox-meta');
  const download = button('Download');
  download.id = 'lightbox-download';
  const close = button('Close', '', () => dialog.close());
  close.id = 'lightbox-close';
  const bar = el('div', 'lightbox-bar');
  bar.append(title, meta, download, close);
  const img = el('img');
  img.id = 'lightbox-image';
  const note = el('p', 'lightbox-note');
  note.setAttribute('role', 'status');
  dialog.append(bar, img, note);
  // A click on the backdrop (the dialog itself, outside its content) closes.
  dialog.addEventListener('click', (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener('close', () => { img.removeAttribute('src'); release(img); });
  document.body.append(dialog);
  parts = { title, meta, download, img, note };
}

// Shows image `item` (a MediaItem) full size.
export function openLightbox(item) {
  if (!dialog) build();
  const { title, meta, download, img, note } = parts;
  const ticket = ++opened;
  const name = item.filename || 'image';
  title.textContent = name;
  meta.textContent = [item.width && item.height ? `${item.width} × ${item.height}` : '', formatSize(item.size)].filter(Boolean).join(' · ');
  download.setAttribute('aria-label', `Download ${name}`);
  download.onclick = () => downloadMedia(item).catch((e) => alertStatus(`Download failed: ${e.message}`));
  img.alt = name;
  img.removeAttribute('src');
  // The picture's box, fitted to the window, is laid out before it loads.
  if (item.width && item.height) {
    const s = Math.min(1, (window.innerWidth * 0.94) / item.width, (window.innerHeight * 0.96 - 60) / item.height);
    img.style.width = `${Math.round(item.width * s)}px`;
    img.style.height = `${Math.round(item.height * s)}px`;
  } else {
    img.style.width = img.style.height = '';
  }
  note.textContent = 'Loading…';
  dialog.showModal();
  dialog.querySelector('#lightbox-close').focus();
  objectUrl(item.media_id, 'original', img).then((url) => {
    if (!dialog.open || ticket !== opened) return;
    img.src = url;
    note.textContent = '';
  }).catch((e) => {
    if (ticket !== opened) return;
    note.textContent = e.status === 404 ? 'This image is no longer available.' : `Could not load the image: ${e.message}`;
  });
}
