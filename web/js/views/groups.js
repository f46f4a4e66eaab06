// The sidebar: the group list by activity with unread and mention badges,
// creating a group, joining one by address, and the public directory.
import { api, enc } from '../api.js';
import { on } from '../bus.js';
import { $ } from '../dom.js';
import { state } from '../store.js';
import { loadGroups } from '../sync.js';
import { ask, show } from './dialog.js';
import { alertStatus } from './status.js';
import { openGroup } from './timeline.js';

function renderGroups() {
  const ul = $('groups');
  ul.replaceChildren();
  const list = [...state.groups.values()].sort((a, b) => b.last_event_at - a.last_event_at);
  for (const g of list) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.group = g.group_id;
    if (g.group_id === state.current) b.setAttribute('aria-current', 'true');
    const name = document.createElement('span');
    name.textContent = (g.membership === 'invite' ? '✉ ' : '') + (g.title || g.group_id);
    b.append(name);
    const reading = g.group_id === state.current && !document.hidden;  // marked read in a moment
    if (reading) {
      // no badge
    } else if (g.mention_count > 0) {
      const m = document.createElement('span');
      m.className = 'badge mention';
      m.textContent = '@' + g.mention_count;
      m.setAttribute('aria-label', `${g.mention_count} mentions`);
      b.append(m);
    } else if (g.unread_count > 0) {
      const u = document.createElement('span');
      u.className = 'badge';
      u.textContent = g.unread_count;
      u.setAttribute('aria-label', `${g.unread_count} unread`);
      b.append(u);
    }
    b.onclick = () => openGroup(g.group_id);
    li.append(b);
    ul.append(li);
  }
}

async function joinAndOpen(id) {
  await api('POST', `/groups/${enc(id)}/join`, {});
  await loadGroups();
  openGroup(id);
}

async function browse(q) {
  const r = await api('GET', `/directory?limit=50&q=${enc(q)}`);
  const form = document.createElement('div');
  form.className = 'row';
  const label = document.createElement('label');
  label.className = 'visually-hidden';
  label.htmlFor = 'dir-q';
  label.textContent = 'Search public groups';
  const input = document.createElement('input');
  input.id = 'dir-q';
  input.placeholder = 'Search public groups';
  input.value = q;
  const go = document.createElement('button');
  go.type = 'button';
  go.textContent = 'Search';
  go.onclick = () => { $('dialog').close(); browse(input.value); };
  input.onkeydown = (e) => { if (e.key === 'Enter') { e.preventDefault(); go.click(); } };
  form.append(label, input, go);
  const ul = document.createElement('ul');
  for (const g of r.groups) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${g.title} (${g.group_id}, ${g.member_count} members)`;
    b.onclick = async () => {
      $('dialog').close();
      try { await joinAndOpen(g.group_id); } catch (e) { alertStatus(e.message); }
    };
    li.append(b);
    ul.append(li);
  }
  if (!r.groups.length) ul.textContent = q ? 'No public group matches.' : 'No public groups yet.';
  show('Public groups', [form, ul]);
  input.focus();
}

export function mount() {
  on('groups-changed', renderGroups);

  $('new-group').onclick = async () => {
    const r = await ask('New group', [
      { id: 'ng-name', label: 'Name (a-z, 0-9, . _ -)' },
      { id: 'ng-title', label: 'Title' },
      { id: 'ng-vis', label: 'Visibility', options: ['public', 'private'] },
    ]);
    if (!r) return;
    try {
      const g = await api('POST', '/groups', { name: r['ng-name'].trim(), title: r['ng-title'] || undefined, visibility: r['ng-vis'] });
      await loadGroups();
      openGroup(g.group_id);
    } catch (e) { alertStatus(e.message); }
  };

  $('join-form').onsubmit = async (e) => {
    e.preventDefault();
    const addr = $('join-address').value.trim();
    if (!addr) return;
    try {
      const g = await api('POST', `/groups/${enc(addr)}/join`, {});
      $('join-address').value = '';
      await loadGroups();
      openGroup(g.group_id);
    } catch (err) { alertStatus(err.message); }
  };

  $('browse').onclick = () => browse('');
}
