// The one modal dialog (#dialog): ask() for a small form, show() for a list.
import { $ } from '../dom.js';

// Shows a form with `fields` ({id, label, value?, multiline?, options?,
// type?, autocomplete?}, where
// an option is a string or {value, label}; or {node}: an element shown as it
// is) and resolves to {id: value} of the fields with an id when confirmed, or
// null when cancelled.
export function ask(title, fields) {
  return new Promise((resolve) => {
    $('dialog-title').textContent = title;
    $('dialog-error').textContent = '';
    const body = $('dialog-body');
    body.replaceChildren();
    for (const f of fields) {
      if (f.node) { body.append(f.node); continue; }
      const label = document.createElement('label');
      label.textContent = f.label;
      let input;
      if (f.options) {
        input = document.createElement('select');
        for (const o of f.options) { const opt = document.createElement('option'); opt.value = o.value ?? o; opt.textContent = o.label ?? o; input.append(opt); }
      } else {
        input = document.createElement(f.multiline ? 'textarea' : 'input');
      }
      input.id = f.id;
      if (f.type) input.type = f.type;
      if (f.autocomplete) input.autocomplete = f.autocomplete;
      if (f.value !== undefined || !f.options) input.value = f.value || '';
      label.append(input);
      body.append(label);
    }
    const d = $('dialog');
    d.onclose = () => {
      if (d.returnValue !== 'ok') return resolve(null);
      const out = {};
      for (const f of fields) if (f.id) out[f.id] = $(f.id).value;
      resolve(out);
    };
    d.returnValue = '';
    d.showModal();
    const first = fields.find((f) => f.id);
    if (first) $(first.id).focus();
  });
}

// Shows `nodes` in the dialog.
export function show(title, nodes) {
  $('dialog-title').textContent = title;
  $('dialog-error').textContent = '';
  $('dialog-body').replaceChildren(...nodes);
  $('dialog').onclose = null;
  $('dialog').showModal();
}
