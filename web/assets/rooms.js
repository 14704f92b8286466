// Finding and following rooms, and invitations (docs/WEB.md "Finding and following rooms"):
// the rooms I follow (the list SIP clients keep too) with their unread counts (the server's
// read markers: "Unread counts"), room search with join / follow / unfollow, my invitations. Over HTTP (/api/web/...); text from the server is only ever set
// with textContent, never as HTML.
const $ = (id) => document.getElementById(id);

let app = null; // {csrf(), openRoom(uri), currentRoom(), lastSeq(uri), active(), status(text)}
let followed = new Set();
let lastQuery = null;
const kPollMs = 5000; // the followed rooms' counts again, while signed in
const readSent = new Map(); // room -> the highest seq reported read
let readTimer = null;

const privacyWords = {
  open: 'open: anyone may join',
  closed: 'closed: members only',
  secret: 'secret: hidden from non-members',
};
const roleWords = { manager: 'you manage it', presenter: 'you present', member: 'you are a member' };

// One JSON call to the app's HTTP API (cookie sign-in; writes carry the CSRF token).
export async function call(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-PChat-CSRF'] = app.csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, credentials: 'same-origin', headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) {
    // The status, and the form field a refusal is about (the room-management API names it).
    throw Object.assign(new Error(j.error || `${method} ${path}: ${r.status}`), { status: r.status, field: j.field || '' });
  }
  return j;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function facts(r) {
  const parts = [privacyWords[r.privacy] || r.privacy];
  if (r.role) parts.push(roleWords[r.role] || r.role);
  if (r.users !== undefined) parts.push(`${r.users} in it now`);
  if (!r.can_join) parts.push('you may not join');
  return parts.join(' · ');
}

function button(text, cls, onClick) {
  const b = el('button', cls, text);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

async function setFollow(uri, on) {
  try {
    const j = on ? await call('POST', '/api/web/follows', { room: uri })
      : await call('DELETE', `/api/web/follows?room=${encodeURIComponent(uri)}`);
    renderFollows(j.rooms);
    app.status(on ? 'following' : 'no longer following');
    if (lastQuery !== null) await search(lastQuery);
    await refreshInvitations();
  } catch (e) {
    app.status(e.message);
  }
}

let rendered = ''; // what the followed list shows: unchanged, it is not built again (the poll)
const counted = new Map(); // room -> its unread count last shown

// A browser notification for a followed room whose count rose while the page is in the
// background (docs/WEB.md "Notifications"), if the user allowed them.
function notify(rooms) {
  const can = 'Notification' in window && Notification.permission === 'granted' && document.visibilityState === 'hidden';
  for (const r of rooms) {
    const before = counted.get(r.uri);
    counted.set(r.uri, r.unread || 0);
    if (can && before !== undefined && (r.unread || 0) > before) {
      new Notification(r.name, { body: `${r.unread} unread`, tag: r.uri });
    }
  }
}

function renderFollows(rooms) {
  followed = new Set(rooms.map((r) => r.uri));
  notify(rooms);
  const key = JSON.stringify([rooms, app.currentRoom()]);
  if (key === rendered) return;
  rendered = key;
  const ul = $('rooms');
  ul.replaceChildren();
  if (!rooms.length) ul.append(el('li', 'empty', 'You follow no room yet: find one below.'));
  for (const r of rooms) {
    const li = el('li');
    const b = el('button', 'room', r.name);
    b.type = 'button';
    b.dataset.uri = r.uri;
    if (r.uri === app.currentRoom()) b.setAttribute('aria-current', 'true');
    if (r.unread > 0) {
      const n = el('span', 'unread', String(r.unread));
      n.setAttribute('aria-label', `${r.unread} unread`);
      b.append(n);
    }
    b.append(el('span', 'desc', r.description || ''));
    b.disabled = !r.can_join;
    b.addEventListener('click', () => app.openRoom(r.uri));
    const u = button('Unfollow', 'unfollow', () => setFollow(r.uri, false));
    u.dataset.unfollow = r.uri;
    u.setAttribute('aria-label', `Unfollow ${r.name}`);
    li.append(b, u);
    ul.append(li);
  }
}

function renderFound(rooms) {
  const ul = $('found');
  ul.replaceChildren();
  if (!rooms.length) ul.append(el('li', 'empty', 'No room found.'));
  for (const r of rooms) {
    const li = el('li', 'found');
    li.dataset.uri = r.uri;
    li.append(el('strong', 'name', r.name), el('span', 'desc', r.description || ''), el('span', 'facts', facts(r)));
    const actions = el('span', 'actions');
    if (r.can_join) {
      const j = button('Open', 'open', () => app.openRoom(r.uri));
      j.setAttribute('aria-label', `Open ${r.name}`);
      actions.append(j);
    }
    const f = r.followed ? button('Unfollow', 'unfollow', () => setFollow(r.uri, false))
      : button('Follow', 'follow', () => setFollow(r.uri, true));
    f.setAttribute('aria-label', `${r.followed ? 'Unfollow' : 'Follow'} ${r.name}`);
    actions.append(f);
    li.append(actions);
    ul.append(li);
  }
}

async function search(q) {
  lastQuery = q;
  try {
    const j = await call('GET', `/api/web/rooms?q=${encodeURIComponent(q)}`);
    renderFound(j.rooms);
  } catch (e) {
    app.status(e.message);
  }
}

async function refreshInvitations() {
  try {
    const j = await call('GET', '/api/web/invitations');
    const ul = $('invitations');
    ul.replaceChildren();
    $('invitations-box').hidden = j.invitations.length === 0;
    for (const inv of j.invitations) {
      const li = el('li', 'invitation');
      li.dataset.uri = inv.room;
      li.append(el('strong', 'name', inv.name), el('span', 'facts', `from ${inv.inviter}`));
      const a = button('Accept', 'accept', async () => {
        await setFollow(inv.room, true);
        app.openRoom(inv.room);
      });
      a.setAttribute('aria-label', `Accept the invitation to ${inv.name}`);
      li.append(a);
      ul.append(li);
    }
  } catch (e) {
    app.status(e.message);
  }
}

async function refreshFollows() {
  try {
    renderFollows((await call('GET', '/api/web/follows')).rooms);
  } catch (e) {
    app.status(e.message);
  }
}

// The followed list and invitations again (after connecting, and when asked).
export async function refresh() {
  await refreshFollows();
  await refreshInvitations();
}

// The open room is shown through `seq` (its back-chat, a new message): a followed room's
// read marker moves there, at most once a second, while the page is in view.
export function seen(room, seq) {
  if (!seq || room !== app.currentRoom() || !followed.has(room) || document.visibilityState !== 'visible') return;
  if (seq <= (readSent.get(room) || 0)) return;
  readSent.set(room, seq);
  if (readTimer) return;
  readTimer = setTimeout(async () => {
    readTimer = null;
    const r = app.currentRoom();
    const at = readSent.get(r);
    if (!at) return;
    try {
      renderFollows((await call('POST', '/api/web/read', { room: r, seq: at })).rooms);
    } catch (e) {
      readSent.delete(r);
      app.status(e.message);
    }
  }, 1000);
}

export function isFollowed(uri) { return followed.has(uri); }

export function init(hooks) {
  app = hooks;
  // In the background too: a count that rises there is a notification.
  setInterval(() => { if (app.active()) refreshFollows(); }, kPollMs);
  if ('Notification' in window && Notification.permission === 'default') {
    $('notify').hidden = false;
    $('notify').addEventListener('click', async () => {
      await Notification.requestPermission();
      $('notify').hidden = Notification.permission !== 'default';
    });
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible' || !app.active()) return;
    refreshFollows();
    const r = app.currentRoom();
    if (r) seen(r, app.lastSeq(r));
  });
  $('find').addEventListener('submit', (e) => {
    e.preventDefault();
    search($('find-text').value.trim());
  });
}
