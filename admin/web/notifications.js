// The admin console's Notifications page: whether this process runs the
// notification worker, its backlog, the push and email queues, delivered and
// failed per kind, the email settings (the SMTP URL without its password),
// and every user's pushers with their status; an admin can remove a pusher
// (the audit log records it). It registers itself with console.js
// (registerPage) and runs each time its tab is opened. Everything shown is
// set with textContent.
import { api, button, cell, flash, fmt, registerPage } from './console.js';

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

function card(label, value, more) {
  const c = el('div', { className: 'card' }, el('div', { className: 'n', textContent: String(value) }),
    el('div', { className: 'l', textContent: label }));
  if (more) c.append(el('div', { className: 'l', textContent: more }));
  return c;
}

async function loadNotifications() {
  const root = document.getElementById('notifications');
  const s = await api('GET', '/admin/notifications');
  const d = s.delivery;
  const cards = el('div', { className: 'cards', id: 'notif-cards' },
    card('Worker runs in this process', s.worker.runs_here ? 'yes' : 'no (another process)'),
    card('Worker backlog', s.worker.backlog), card('Worker lag', `${s.worker.lag_seconds.toFixed(1)} s`),
    card('Push queue', s.queues.push), card('Email queue', s.queues.email),
    ...[['webpush', 'Web Push'], ['webhook', 'Webhook'], ['email', 'Email']].map(([k, name]) => card(
      `${name} delivered / failed`, `${d[k].delivered} / ${d[k].failed}`,
      `${d[k].retried} retried, ${d[k].queued} queued`)));

  const e = s.email;
  const settings = el('dl', { id: 'notif-email', className: 'facts' });
  for (const [k, v] of [['Email', e.enabled ? 'on' : 'off (notifications.email.smtp_url is empty)'],
    ['SMTP server', e.smtp_url || '—'], ['From', e.from || '—'], ['Delay', `${e.delay_s} s`], ['Links', e.public_url]]) {
    settings.append(el('dt', { textContent: k }), el('dd', { textContent: v }));
  }

  const kinds = el('p', { id: 'notif-kinds', textContent: s.pushers.length
    ? s.pushers.map((k) => `${k.kind}: ${k.pushers} pushers, ${k.failing} failing, ${k.queued} queued`).join(' · ')
    : 'No pushers registered.' });

  const filter = el('input', { id: 'pusher-user', placeholder: '@user:node (empty: everyone)', autocomplete: 'off',
    spellcheck: false });
  const form = el('form', { id: 'pusher-search', className: 'row' },
    el('label', { className: 'vh', htmlFor: 'pusher-user', textContent: 'Pushers of user' }), filter,
    el('button', { type: 'submit', textContent: 'Show pushers' }));
  const rows = el('tbody', { id: 'pusher-rows' });
  const head = el('tr');
  for (const h of ['User', 'Kind', 'Endpoint', 'Status', 'Last success', 'Last error', 'Failures', 'Queued', 'Actions']) {
    head.append(el('th', { textContent: h }));
  }
  const table = el('div', { className: 'scroll' }, el('table', {}, el('thead', {}, head), rows));

  async function loadPushers() {
    const q = filter.value.trim();
    const r = await api('GET', `/admin/pushers?limit=500${q ? `&user_id=${encodeURIComponent(q)}` : ''}`);
    rows.replaceChildren(...r.pushers.map((p) => {
      const tr = el('tr');
      tr.dataset.pusher = String(p.pusher_id);
      tr.dataset.user = p.user_id;
      for (const v of [p.user_id, p.kind, p.url, p.status, fmt(p.last_success_at), p.last_error || '—', p.failures, p.queued]) {
        cell(tr, String(v));
      }
      const actions = cell(tr, '');
      button(actions, 'Remove', async () => {
        if (!confirm(`Remove ${p.user_id}'s ${p.kind} pusher ${p.url}? Pushes it is owed are dropped.`)) return;
        await api('DELETE', `/admin/pushers/${p.pusher_id}`);
        tr.remove();
        flash(`Removed ${p.user_id}'s pusher`);
      });
      return tr;
    }));
  }
  form.onsubmit = (ev) => {
    ev.preventDefault();
    loadPushers().catch((err) => { if (err.message !== 'unauthorized') flash(err.message); });
  };

  root.replaceChildren(cards, el('h2', { textContent: 'Email' }), settings, el('h2', { textContent: 'Pushers' }), kinds,
    form, table);
  await loadPushers();
}

registerPage('notifications', loadNotifications);
