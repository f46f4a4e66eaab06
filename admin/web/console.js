// GroupChat admin console: a build-free ES module over the admin API.
// Auth is the Bearer token of an admin user (kept in sessionStorage, never a
// cookie, so the API is not open to cross-site requests). Everything shown is
// set with textContent.
//
// A page kept in a module of its own (e.g. media.js) imports the helpers
// exported here and adds itself with registerPage(); index.html holds its
// tab button and its <section>.

const API = '/api/v1';
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('gc.admin.token');
let auditBefore = null;

export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') && text ? JSON.parse(text) : text;
  if (res.status === 401) { logout('Your session ended. Log in again.'); throw new Error('unauthorized'); }
  if (!res.ok) throw new Error(data && data.error ? data.error.message : `HTTP ${res.status}`);
  return data;
}
export const enc = encodeURIComponent;
export const fmt = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
export function flash(text) {
  $('status').textContent = text;
  $('status').hidden = false;
  setTimeout(() => { if ($('status').textContent === text) $('status').hidden = true; }, 5000);
}
export function cell(tr, text) { const td = document.createElement('td'); td.textContent = text; tr.append(td); return td; }
export function button(parent, label, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.onclick = async () => { try { await fn(); } catch (e) { if (e.message !== 'unauthorized') flash(e.message); } };
  parent.append(b);
  return b;
}

// ------------------------------------------------------------------ login

$('login-form').onsubmit = async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  const res = await fetch(API + '/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: $('username').value, password: $('password').value }) });
  const data = await res.json();
  if (!res.ok) { $('login-error').textContent = data.error.message; return; }
  token = data.access_token;
  const me = await fetch(API + '/me', { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
  if (!me.is_admin) {
    await fetch(API + '/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    token = null;
    $('login-error').textContent = 'This account is not an administrator of this node.';
    return;
  }
  sessionStorage.setItem('gc.admin.token', token);
  $('password').value = '';
  start();
};

function logout(message) {
  token = null;
  sessionStorage.removeItem('gc.admin.token');
  $('console').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
}
$('logout').onclick = async () => { try { await api('POST', '/auth/logout'); } catch (_) { /* gone anyway */ } logout(); };

async function start() {
  const me = await api('GET', '/me');
  if (!me.is_admin) return logout('This account is not an administrator of this node.');
  $('who').textContent = me.user_id;
  $('login').hidden = true;
  $('console').hidden = false;
  show('dashboard');
}

// ------------------------------------------------------------------ tabs

const loaders = { dashboard: loadDashboard, users: loadUsers, registration: loadRegistration, groups: loadGroups,
  federation: loadFederation, audit: () => loadAudit(true), node: loadNode };
for (const b of document.querySelectorAll('.tabs button')) b.onclick = () => show(b.dataset.tab);
// Adds a page: `load()` runs each time its tab is opened.
export function registerPage(tab, load) { loaders[tab] = load; }
function show(tab) {
  for (const b of document.querySelectorAll('.tabs button')) {
    if (b.dataset.tab === tab) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  for (const s of document.querySelectorAll('.panel')) s.hidden = s.id !== tab;
  loaders[tab]().catch((e) => { if (e.message !== 'unauthorized') flash(e.message); });
}

// ------------------------------------------------------------------ dashboard

async function loadDashboard() {
  const s = await api('GET', '/admin/stats');
  $('node-name').textContent = `${s.node} · ${s.version}`;
  const cards = [
    ['Uptime', `${Math.floor(s.uptime_s / 3600)} h ${Math.floor((s.uptime_s % 3600) / 60)} min`],
    ['Users', s.users.total], ['Active in 24 h', s.users.active_24h], ['Groups', s.groups],
    ['Messages today', s.messages_today], ['Connected clients', s.connected_clients],
    ['Database size', `${(s.database_bytes / 1048576).toFixed(1)} MB`], ['Media stored', `${(s.media_bytes / 1048576).toFixed(1)} MB`],
    ['Federation peers', `${s.federation_peers.up} up / ${s.federation_peers.down} down`],
  ];
  $('cards').replaceChildren(...cards.map(([l, n]) => {
    const d = document.createElement('div');
    d.className = 'card';
    const nd = document.createElement('div'); nd.className = 'n'; nd.textContent = n;
    const ld = document.createElement('div'); ld.className = 'l'; ld.textContent = l;
    d.append(nd, ld);
    return d;
  }));
  const max = Math.max(1, ...s.messages_per_hour);
  $('chart').replaceChildren(...s.messages_per_hour.map((n, i) => {
    const bar = document.createElement('div');
    bar.style.height = `${Math.round((n / max) * 100)}%`;
    bar.title = `${23 - i} h ago: ${n}`;
    return bar;
  }));
}

// ------------------------------------------------------------------ users

$('user-search').onsubmit = (e) => { e.preventDefault(); loadUsers().catch((x) => flash(x.message)); };
async function loadUsers() {
  const r = await api('GET', `/admin/users?limit=100&q=${enc($('user-q').value)}`);
  const rows = $('user-rows');
  rows.replaceChildren();
  for (const u of r.users) {
    const tr = document.createElement('tr');
    tr.dataset.user = u.user_id;
    cell(tr, u.user_id);
    cell(tr, u.display_name);
    cell(tr, u.is_admin ? 'admin' : '');
    const st = cell(tr, u.deactivated ? 'deactivated' : 'active');
    st.className = u.deactivated ? 'pill off' : 'pill';
    const actions = cell(tr, '');
    button(actions, 'View', () => viewUser(u.user_id));
    if (u.deactivated) button(actions, 'Reactivate', async () => { await api('POST', `/admin/users/${enc(u.user_id)}/reactivate`); flash(`${u.user_id} reactivated`); loadUsers(); });
    else button(actions, 'Deactivate', async () => {
      if (!confirm(`Deactivate ${u.user_id}? Their sessions end at once.`)) return;
      await api('POST', `/admin/users/${enc(u.user_id)}/deactivate`); flash(`${u.user_id} deactivated`); loadUsers();
    });
    rows.append(tr);
  }
}

async function viewUser(id) {
  const u = await api('GET', `/admin/users/${enc(id)}`);
  const d = $('user-detail');
  d.hidden = false;
  d.replaceChildren();
  const h = document.createElement('h2'); h.textContent = u.user_id; d.append(h);
  const p = document.createElement('p');
  p.textContent = `Display name: ${u.display_name || '—'} · created ${fmt(u.created_at)} · last seen ${fmt(u.last_seen_at)} · ${u.is_admin ? 'admin' : 'not admin'}${u.deactivated ? ' · deactivated' : ''}`;
  d.append(p);
  const g = document.createElement('p');
  g.textContent = `Groups: ${u.groups.map((x) => `${x.group_id} (${x.role || x.membership})`).join(', ') || 'none'}`;
  d.append(g);
  const s = document.createElement('p');
  s.textContent = `Sessions: ${u.sessions.map((x) => `${x.ip} ${x.user_agent.slice(0, 40)} (last used ${fmt(x.last_used_at)})`).join('; ') || 'none'}`;
  d.append(s);
  const actions = document.createElement('div');
  actions.className = 'row';
  button(actions, 'Revoke all sessions', async () => { await api('DELETE', `/admin/users/${enc(id)}/sessions`); flash('Sessions revoked'); viewUser(id); });
  button(actions, 'Reset password', async () => {
    const pw = prompt(`New password for ${id} (at least 8 characters):`);
    if (!pw) return;
    await api('POST', `/admin/users/${enc(id)}/password`, { password: pw }); flash('Password reset; sessions ended');
  });
  button(actions, u.is_admin ? 'Revoke admin' : 'Make admin', async () => {
    await api('PUT', `/admin/users/${enc(id)}/admin`, { is_admin: !u.is_admin }); flash('Saved'); viewUser(id); loadUsers();
  });
  d.append(actions);
}

$('create-user').onclick = async () => {
  const username = prompt('Username for the new user:');
  if (!username) return;
  const password = prompt('Password (at least 8 characters):');
  if (!password) return;
  try { await api('POST', '/admin/users', { username, password }); flash(`Created ${username}`); loadUsers(); } catch (e) { flash(e.message); }
};

// ------------------------------------------------------------------ registration

async function loadRegistration() {
  $('mode').value = (await api('GET', '/admin/registration')).mode;
  const r = await api('GET', '/admin/invites');
  const rows = $('invite-rows');
  rows.replaceChildren();
  for (const i of r.invites) {
    const tr = document.createElement('tr');
    const t = cell(tr, i.token);
    t.className = 'token';
    cell(tr, `${i.uses} / ${i.uses_allowed ?? '∞'}`);
    cell(tr, fmt(i.expires_at));
    cell(tr, i.created_by || 'command line');
    cell(tr, i.revoked ? 'revoked' : 'active');
    const a = cell(tr, '');
    if (!i.revoked) button(a, 'Revoke', async () => { await api('DELETE', `/admin/invites/${enc(i.token)}`); loadRegistration(); });
    rows.append(tr);
  }
}
$('mode-form').onsubmit = async (e) => {
  e.preventDefault();
  try { await api('PUT', '/admin/registration', { mode: $('mode').value }); flash(`Registration is now ${$('mode').value}`); } catch (x) { flash(x.message); }
};
$('invite-form').onsubmit = async (e) => {
  e.preventDefault();
  const body = { uses: Number($('invite-uses').value) || 1 };
  if ($('invite-hours').value) body.expires_at = Date.now() + Number($('invite-hours').value) * 3600000;
  try { await api('POST', '/admin/invites', body); loadRegistration(); } catch (x) { flash(x.message); }
};

// ------------------------------------------------------------------ groups

$('group-search').onsubmit = (e) => { e.preventDefault(); loadGroups().catch((x) => flash(x.message)); };
async function loadGroups() {
  const r = await api('GET', `/admin/groups?limit=100&q=${enc($('group-q').value)}`);
  const rows = $('group-rows');
  rows.replaceChildren();
  for (const g of r.groups) {
    const tr = document.createElement('tr');
    cell(tr, g.group_id); cell(tr, g.title); cell(tr, g.visibility); cell(tr, g.member_count);
    cell(tr, g.message_count); cell(tr, g.participants.join(', '));
    const a = cell(tr, '');
    button(a, 'View', () => viewGroup(g.group_id));
    button(a, 'Delete…', async () => {
      const typed = prompt(`This deletes ${g.group_id} and all its history. Type the group id to confirm:`);
      if (typed === null) return;
      await api('DELETE', `/admin/groups/${enc(g.group_id)}`, { confirm: typed });
      flash(`${g.group_id} deleted`); loadGroups();
    });
    rows.append(tr);
  }
}
async function viewGroup(id) {
  const g = await api('GET', `/admin/groups/${enc(id)}`);
  const d = $('group-detail');
  d.hidden = false;
  d.replaceChildren();
  const h = document.createElement('h2'); h.textContent = `${g.title} (${g.group_id})`; d.append(h);
  const p = document.createElement('p');
  p.textContent = `${g.visibility}, join: ${g.join_rule}; topic: ${g.topic || '—'}; ${g.message_count} messages; created by ${g.created_by} ${fmt(g.created_at)}`;
  d.append(p);
  const ul = document.createElement('ul');
  for (const m of g.members) {
    const li = document.createElement('li');
    li.textContent = `${m.user_id} — ${m.membership === 'join' ? m.role : m.membership}`;
    if (m.membership === 'join' && m.role !== 'owner') button(li, 'Make owner', async () => { await api('PUT', `/admin/groups/${enc(id)}/owner`, { user_id: m.user_id }); viewGroup(id); });
    ul.append(li);
  }
  d.append(ul);
}

// ------------------------------------------------------------------ federation

const POLICY = {
  open: 'open: any node may federate with this one, except those blocked',
  allowlist: 'allowlist: only nodes on the allow list, or allowed here, may federate with this one',
};
const short = (key) => (key.length > 16 ? `${key.slice(0, 8)}…${key.slice(-6)}` : key);
function ago(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3600000) return `${Math.round(ms / 60000)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}
// Runs a peer action, says so and reloads the list.
async function peerAction(name, action, done) {
  await api('POST', `/admin/peers/${enc(name)}/${action}`);
  flash(done);
  await loadFederation();
}
async function blockPeer(name) {
  if (!confirm(`Block ${name}? Its connections are dropped and it can no longer federate with this node.`)) return false;
  await peerAction(name, 'block', `${name} blocked`);
  return true;
}

async function loadFederation() {
  const r = await api('GET', '/admin/peers');
  const on = r.policy !== undefined;
  $('fed-controls').hidden = !on;
  $('fed-lists').hidden = !on;
  if (!on) { $('fed-policy').textContent = 'Federation is off on this node.'; return; }
  $('fed-policy').textContent = `Policy: ${POLICY[r.policy] || r.policy}`;
  $('fed-lists').textContent = `Allow list: ${r.allow.join(', ') || 'none'} · Deny list: ${r.deny.join(', ') || 'none'}`;
  const rows = $('peer-rows');
  rows.replaceChildren();
  for (const p of r.peers) {
    const tr = document.createElement('tr');
    tr.dataset.peer = p.name;
    cell(tr, p.name);
    const denied = r.deny.includes(p.name);
    const st = cell(tr, p.status.replace('_', ' ') + (denied ? ' (deny list)' : ''));
    st.className = p.status === 'up' ? 'pill' : p.status === 'blocked' ? 'pill off' : 'pill warn';
    const key = cell(tr, p.fingerprint ? `${p.key_id} · ${short(p.fingerprint)}` : '—');
    if (p.fingerprint) { key.className = 'key'; key.title = p.fingerprint; }
    cell(tr, p.endpoint || '—');
    cell(tr, fmt(p.first_seen));
    cell(tr, fmt(p.last_seen));
    cell(tr, `${p.push_queue} (${p.groups} ${p.groups === 1 ? 'group' : 'groups'})`);
    cell(tr, `${p.outbox_pending}${p.outbox_pending ? ` (oldest ${ago(p.outbox_lag_ms)})` : ''}${p.outbox_refused ? `, ${p.outbox_refused} refused` : ''}`);
    cell(tr, p.last_error || '—');
    const kc = cell(tr, p.key_conflict ? `new key ${short(p.key_conflict)}` : '—');
    if (p.key_conflict) { kc.className = 'key'; kc.title = p.key_conflict; }
    const a = cell(tr, '');
    if (p.admin_state === 'blocked') button(a, 'Unblock', () => peerAction(p.name, 'unblock', `${p.name} unblocked`));
    else button(a, 'Block', () => blockPeer(p.name));
    if (r.policy === 'allowlist' && !denied && p.admin_state !== 'allowed' && !r.allow.includes(p.name)) {
      button(a, 'Allow', () => peerAction(p.name, 'allow', `${p.name} allowed`));
    }
    button(a, 'Retry', () => peerAction(p.name, 'retry', `Retrying ${p.name} now`));
    if (p.key_conflict) {
      button(a, 'Accept new key', async () => {
        if (!confirm(`Accept the new identity key of ${p.name}? Only do this if its admins confirm they changed it; otherwise someone may be impersonating it.`)) return;
        await peerAction(p.name, 'accept-key', `New key of ${p.name} accepted`);
      });
    }
    rows.append(tr);
  }
  $('peer-empty').hidden = r.peers.length > 0;
}
$('block-form').onsubmit = async (e) => {
  e.preventDefault();
  const name = $('block-name').value.trim().toLowerCase();
  if (!name) return;
  try { if (await blockPeer(name)) $('block-name').value = ''; } catch (x) { if (x.message !== 'unauthorized') flash(x.message); }
};

// ------------------------------------------------------------------ audit and node

async function loadAudit(fresh) {
  if (fresh) { auditBefore = null; $('audit-rows').replaceChildren(); }
  const r = await api('GET', `/admin/audit?limit=50${auditBefore ? `&before=${auditBefore}` : ''}`);
  for (const e of r.entries) {
    const tr = document.createElement('tr');
    cell(tr, fmt(e.at)); cell(tr, e.actor); cell(tr, e.action); cell(tr, e.target); cell(tr, e.ip);
    cell(tr, JSON.stringify(e.detail));
    $('audit-rows').append(tr);
  }
  auditBefore = r.next_before;
  $('audit-more').hidden = !auditBefore || r.entries.length < 50;
}
$('audit-more').onclick = () => loadAudit(false).catch((e) => flash(e.message));

async function loadNode() { $('config').textContent = await api('GET', '/admin/config'); }

if (token) start().catch(() => logout()); else $('login').hidden = false;
