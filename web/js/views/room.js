// The current group's actions in its header: invite, members, settings (for
// owners and admins), leave. What they change comes back on the stream.
import { api, enc } from '../api.js';
import { $ } from '../dom.js';
import { state } from '../store.js';
import { avatarNode } from './avatars.js';
import { ask, show } from './dialog.js';
import { alertStatus } from './status.js';

export function mount() {
  $('invite').onclick = async () => {
    const r = await ask('Invite someone', [{ id: 'inv-user', label: 'User address (@name:server)' }]);
    if (!r) return;
    try { await api('POST', `/groups/${enc(state.current)}/invites`, { user_id: r['inv-user'].trim() }); alertStatus('Invitation sent'); } catch (e) { alertStatus(e.message); }
  };

  $('members').onclick = async () => {
    const r = await api('GET', `/groups/${enc(state.current)}/members?limit=500`);
    const ul = document.createElement('ul');
    for (const m of r.members) {
      const li = document.createElement('li');
      li.textContent = `${m.user_id} — ${m.membership === 'invite' ? 'invited' : m.role}`;
      li.prepend(avatarNode(m.user_id));
      ul.append(li);
    }
    show('Members', [ul]);
  };

  $('settings').onclick = async () => {
    const g = state.groups.get(state.current);
    const r = await ask('Group settings', [
      { id: 'st-title', label: 'Title', value: g.title },
      { id: 'st-topic', label: 'Topic', value: g.topic, multiline: true },
      { id: 'st-vis', label: 'Visibility', options: [g.visibility, g.visibility === 'public' ? 'private' : 'public'] },
      { id: 'st-join', label: 'Who can join', options: [g.join_rule, g.join_rule === 'open' ? 'invite' : 'open'] },
    ]);
    if (!r) return;
    try {
      await api('PATCH', `/groups/${enc(state.current)}`, { title: r['st-title'], topic: r['st-topic'], visibility: r['st-vis'], join_rule: r['st-join'] });
    } catch (e) { alertStatus(e.message); }
  };

  $('leave').onclick = async () => {
    if (!confirm('Leave this group?')) return;
    try { await api('POST', `/groups/${enc(state.current)}/leave`, {}); } catch (e) { alertStatus(e.message); }
  };
}
