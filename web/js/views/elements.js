// Element builders for the media views (attachments, upload, lightbox,
// avatars): user text goes in with textContent only, never as HTML.

// A `tag` element with an optional class and text.
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A type="button" button; `label` (optional) is its accessible name when
// the text alone would not say what it acts on.
export function button(text, label, onclick) {
  const b = el('button', '', text);
  b.type = 'button';
  if (label) b.setAttribute('aria-label', label);
  b.onclick = onclick;
  return b;
}
