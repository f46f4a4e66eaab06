// The one modal dialog (#dialog): ask() for a small form, show() for a list.
import { $ } from '../dom.js';

// Shows a form with `fields` ({id, label, value?, multiline?, options?}; an
// option is a string or {value, label}) and
// resolves to {id: value} when confirmed, or null when cancelled.
export function ask(title, fields) {
  return new Promise((resolve) => {
    $('dialog-title').textContent = title;
    $('dialog-error').textContent = '';
    const body = $('dialog-body');
    body.replaceChildren();
    for (const f of fields) {
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
      if (f.value !== undefined || !f.options) input.value = f.value || '';
      label.append(input);
      body.append(label);
    }
    const d = $('dialog');
    d.onclose = () => {
      if (d.returnValue !== 'ok') return resolve(null);
      const out = {};
      for (const f of fields) out[f.id] = $(f.id).value;
      resolve(out);
    };
    d.returnValue = '';
    d.showModal();
    if (fields.length) $(fields[0].id).focus();
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
