// pchat's web client (docs/WEB.md): sign-in over HTTP, then one WebSocket at /ws carrying
// JSON messages. Text from users is only ever set with textContent, never as HTML.
import * as rooms from './rooms.js';
import * as room from './room.js';
import * as search from './search.js';
import * as manage from './manage.js';

const $ = (id) => document.getElementById(id);

const state = {
  csrf: '',
  user: '',
  ws: null,
  signedIn: false,
  backoff: 500,
  room: '',          // the room shown
  lastSeq: new Map(), // room -> highest seq seen (resume point)
  pending: new Map(), // post id -> {room, text, li}
};

function status(text) { $('status').textContent = text; }

function show(signedIn) {
  state.signedIn = signedIn;
  $('signin').hidden = signedIn;
  $('chat').hidden = !signedIn;
  $('who').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  $('who').textContent = signedIn ? state.user : '';
  if (!signedIn) $('address').focus();
}

async function checkSession() {
  const r = await fetch('/api/web/session', { credentials: 'same-origin' });
  if (r.ok) {
    const who = await r.json();
    state.user = who.user;
    state.csrf = who.csrf;
    show(true);
    connect();
    if (location.hash === '#manage') manage.show();
  } else {
    show(false);
  }
}

$('signin').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('signin-error').textContent = '';
  $('signin-btn').disabled = true;
  try {
    const r = await fetch('/api/web/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ address: $('address').value, password: $('password').value }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      $('signin-error').textContent = body.error || `sign-in failed (${r.status})`;
      return;
    }
    $('password').value = '';
    state.user = body.user;
    state.csrf = body.csrf;
    show(true);
    connect();
    if (location.hash === '#manage') manage.show();
  } finally {
    $('signin-btn').disabled = false;
  }
});

$('signout').addEventListener('click', async () => {
  await fetch('/api/web/session', {
    method: 'DELETE', credentials: 'same-origin', headers: { 'X-PChat-CSRF': state.csrf },
  });
  signedOut('signed out');
});

function signedOut(reason) {
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close();
  state.room = '';
  room.closed();
  $('room').hidden = true;
  manage.hide();
  show(false);
  status(reason);
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(msg));
    return true;
  }
  return false;
}

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const ws = new WebSocket(url);
  state.ws = ws;
  status('connecting…');
  ws.addEventListener('open', () => {
    state.backoff = 500;
    status('connected');
    rooms.refresh();
    search.refresh();
    if (state.room) {
      // Resume: only what followed the last seq seen, then the posts not acknowledged yet.
      const after = state.lastSeq.get(state.room);
      send(after ? { type: 'join', room: state.room, after } : { type: 'join', room: state.room, history: 50 });
    }
  });
  ws.addEventListener('message', (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    handlers[m.type]?.(m);
  });
  ws.addEventListener('close', async () => {
    if (state.ws !== ws) return; // signed out, or replaced
    state.ws = null;
    status('disconnected; reconnecting…');
    // The sign-in may have ended (expired, revoked): ask before reconnecting.
    const r = await fetch('/api/web/session', { credentials: 'same-origin' }).catch(() => null);
    if (r && r.status === 401) return signedOut('your sign-in ended; sign in again');
    setTimeout(() => { if (state.signedIn && !state.ws) connect(); }, state.backoff);
    state.backoff = Math.min(state.backoff * 2, 10000);
  });
}

// Leaves the room shown, if any (another view takes its place).
function leaveRoom() {
  if (state.room) send({ type: 'part', room: state.room });
  state.room = '';
  room.closed();
  $('room').hidden = true;
  for (const b of $('rooms').querySelectorAll('button')) b.removeAttribute('aria-current');
}

function openRoom(uri, history = 50) {
  manage.hide();
  if (state.room && state.room !== uri) send({ type: 'part', room: state.room });
  state.room = uri;
  state.lastSeq.delete(uri);
  $('messages').replaceChildren();
  room.opened(uri);
  $('room').hidden = false;
  for (const b of $('rooms').querySelectorAll('button')) {
    if (b.dataset.uri === uri) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
  }
  send({ type: 'join', room: uri, history });
}

function messageItem(m) {
  const li = document.createElement('li');
  li.className = 'msg';
  if (m.seq) li.dataset.seq = String(m.seq);
  const author = document.createElement('span');
  author.className = 'author';
  author.textContent = m.author || state.user;
  const ts = document.createElement('span');
  ts.className = 'ts';
  ts.textContent = m.ts ? new Date(m.ts).toLocaleTimeString() : '';
  const text = document.createElement('span');
  text.className = 'text';
  room.appendText(text, m.text);
  const st = document.createElement('span');
  st.className = 'state';
  li.append(author, ts, text, st);
  return li;
}

function addMessage(m) {
  if (m.room !== state.room) return;
  const last = state.lastSeq.get(m.room) || 0;
  if (m.seq && m.seq <= last) return; // seen already (a resume's overlap)
  if (m.seq) state.lastSeq.set(m.room, m.seq);
  room.shown(m);
  const p = m.id && state.pending.get(m.id);
  if (p) {
    p.li.dataset.seq = String(m.seq);
    if (m.ts) p.li.querySelector('.ts').textContent = new Date(m.ts).toLocaleTimeString();
    state.pending.delete(m.id);
    if (p.li.isConnected) return; // the pending item stands for it
  }
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(messageItem(m));
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function setPostState(id, cls, text) {
  const p = state.pending.get(id);
  if (!p) return;
  p.li.classList.remove('pending', 'acked', 'failed');
  p.li.classList.add(cls);
  p.li.querySelector('.state').textContent = text;
}

function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function post(text) {
  const id = newId();
  const li = messageItem({ author: state.user, text });
  li.classList.add('pending');
  li.dataset.id = id;
  li.querySelector('.state').textContent = 'sending…';
  $('messages').append(li);
  $('messages').scrollTop = $('messages').scrollHeight;
  state.pending.set(id, { room: state.room, text, li });
  send({ type: 'post', room: state.room, id, text });
}

function retry(id) {
  const p = state.pending.get(id);
  if (!p) return;
  setPostState(id, 'pending', 'sending…');
  send({ type: 'post', room: p.room, id, text: p.text });
}

const handlers = {
  hello(m) { state.user = m.user; $('who').textContent = m.user; },
  joined(m) {
    if (m.room !== state.room) return;
    if (m.gap) { $('messages').replaceChildren(); state.lastSeq.delete(m.room); }
    room.joined(m);
    for (const b of m.backchat) addMessage(b);
    // Posts not acknowledged before a reconnect go again, same id: stored once.
    for (const [id, p] of state.pending) {
      if (p.room === m.room && !p.li.classList.contains('acked')) retry(id);
    }
    search.joined(m.room);
    rooms.seen(m.room, state.lastSeq.get(m.room) || 0);
  },
  parted() {},
  message(m) {
    addMessage(m);
    rooms.seen(m.room, state.lastSeq.get(m.room) || 0);
  },
  ack(m) {
    setPostState(m.id, 'acked', '✓');
    const p = state.pending.get(m.id);
    if (p && m.seq) p.li.dataset.seq = String(m.seq);
    // Its echo (a message with this id) follows an ack with a seq; a retry's ack has none.
    if (!m.seq) state.pending.delete(m.id);
  },
  failed(m) {
    setPostState(m.id, 'failed', `not sent: ${m.error}`);
    const p = state.pending.get(m.id);
    if (p && m.retry) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Retry';
      b.addEventListener('click', () => { b.remove(); retry(m.id); });
      p.li.querySelector('.state').append(' ', b);
    }
  },
  older(m) { room.older(m); },
  room_info(m) { room.roomInfo(m); },
  member_joined(m) { room.member(m, true); },
  member_left(m) { room.member(m, false); },
  removed(m) {
    if (m.room === state.room) { state.room = ''; room.closed(); $('room').hidden = true; }
    status(m.reason);
  },
  error(m) { status(m.error); },
  closed(m) { signedOut(m.reason); },
};

$('post').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text.trim() || !state.room) return;
  $('text').value = '';
  post(text);
});
$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('post').requestSubmit(); }
});

rooms.init({
  csrf: () => state.csrf,
  openRoom: (uri) => openRoom(uri),
  currentRoom: () => state.room,
  lastSeq: (uri) => state.lastSeq.get(uri) || 0,
  active: () => state.signedIn && !!state.ws,
  status,
});
room.init({ send, messageItem, csrf: () => state.csrf });
search.init({
  openRoom: (uri) => openRoom(uri),
  currentRoom: () => state.room,
  csrf: () => state.csrf,
  active: () => state.signedIn && !!state.ws,
  status,
});
manage.init({
  user: () => state.user,
  leaveRoom,
  signedOut: (reason) => signedOut(reason),
});
checkSession();
