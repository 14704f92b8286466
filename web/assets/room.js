// The open room's view (docs/WEB.md): its facts (name, topic, description, whether I may
// post), the live roster, "load older" paging back through the stored history, and the
// room's files (the file service, /files/v1/rooms/: the session cookie signs its requests,
// an upload also carries the sign-in's CSRF token).
// app.js owns the socket and the message list; it calls init() once and hands this module
// the room's messages. Text from users is set as text nodes only; links become <a> elements
// built here with an http(s) href, never parsed HTML.
const $ = (id) => document.getElementById(id);

const PAGE = 100; // messages per "load older" (the server takes 1..200)

let ctx = null; // {send(msg) -> bool, messageItem(m) -> li, csrf() -> token}
const view = {
  room: '',
  oldest: 0,           // the smallest seq shown (0: none yet)
  more: false,         // older messages may exist before `oldest`
  loading: false,
  members: new Set(),
};

export function init(c) {
  ctx = c;
  $('older').addEventListener('click', loadOlder);
  $('upload').addEventListener('submit', upload);
}

// Appends `text` to `el` as text and links: http(s) URLs become links, the rest stays text.
export function appendText(el, text) {
  const url = /\bhttps?:\/\/[^\s<>"']+/g;
  let at = 0;
  for (const m of text.matchAll(url)) {
    let href = m[0].replace(/[.,;:!?)\]]+$/, ''); // trailing punctuation is the sentence's
    if (m.index > at) el.append(document.createTextNode(text.slice(at, m.index)));
    const a = document.createElement('a');
    a.href = href;
    a.textContent = href;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    el.append(a);
    at = m.index + href.length;
  }
  if (at < text.length) el.append(document.createTextNode(text.slice(at)));
}

function setText(el, text) {
  el.replaceChildren();
  appendText(el, text || '');
}

// The room's name, topic, description and the composer (off when I may not post).
function showFacts(m) {
  if (m.name) $('room-name').textContent = m.name;
  setText($('room-topic'), m.topic);
  // The topic shows the description when the room has no topic of its own: once is enough.
  setText($('room-desc'), m.description && m.description !== m.topic ? m.description : '');
  const may = m.can_post !== false;
  $('post').hidden = !may;
  $('text').disabled = !may;
  $('send').disabled = !may;
  $('upload').hidden = !may; // an upload is a post: presenters only in an auditorium
  $('read-only').hidden = may;
  // can_post is false only for an auditorium's non-presenters (the room's access rule).
  $('read-only').textContent = may ? '' :
    'You can read this room but not post in it: it is an auditorium, where only its presenters post.';
  $('read-only').title = may ? '' : (m.post_refusal || '');
}

function renderRoster() {
  const ul = $('members');
  ul.replaceChildren();
  for (const u of [...view.members].sort()) {
    const li = document.createElement('li');
    li.textContent = u.replace(/^sip:/, '');
    li.title = u;
    li.dataset.uri = u;
    ul.append(li);
  }
  $('member-count').textContent = String(view.members.size);
}

function showOlderButton() {
  $('older').hidden = !(view.more && view.oldest > 1);
  $('older').disabled = view.loading;
}

// ---- files

function filesUrl(uri) {
  const id = uri.replace(/^ma-chan:\/\/[^/]+\//, '');
  return `/files/v1/rooms/${encodeURIComponent(id)}`;
}

function sizeText(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${Math.round(n / (1024 * 1024))} MB`;
}

async function listFiles() {
  const room = view.room;
  if (!room) return;
  const r = await fetch(filesUrl(room), { credentials: 'same-origin' }).catch(() => null);
  if (room !== view.room) return;
  const ul = $('file-list');
  if (!r || !r.ok) {
    const body = r ? await r.json().catch(() => ({})) : {};
    const li = document.createElement('li');
    li.className = 'error';
    li.textContent = `files not listed: ${body.error || (r ? r.status : 'no connection')}`;
    ul.replaceChildren(li);
    return;
  }
  const files = await r.json();
  ul.replaceChildren();
  for (const f of files) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = f.url;
    a.download = f.name;
    a.textContent = f.name;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = ` ${sizeText(f.size)}, ${String(f.uploader).replace(/^sip:/, '')}`;
    li.append(a, meta);
    ul.append(li);
  }
}

function upload(e) {
  e.preventDefault();
  const file = $('file-input').files[0];
  if (!file || !view.room) return;
  const room = view.room;
  const bar = $('upload-progress');
  const say = (t) => { $('upload-status').textContent = t; };
  bar.value = 0;
  bar.hidden = false;
  $('upload-btn').disabled = true;
  say(`uploading ${file.name}…`);
  // XMLHttpRequest: fetch() reports no upload progress.
  const xhr = new XMLHttpRequest();
  xhr.open('POST', `${filesUrl(room)}?name=${encodeURIComponent(file.name)}`);
  xhr.setRequestHeader('Content-Type', 'application/octet-stream');
  xhr.setRequestHeader('X-PChat-CSRF', ctx.csrf());
  xhr.upload.addEventListener('progress', (ev) => {
    if (ev.lengthComputable) bar.value = Math.round((ev.loaded / ev.total) * 100);
  });
  const done = (text) => {
    $('upload-btn').disabled = false;
    bar.hidden = true;
    say(text);
  };
  xhr.addEventListener('load', () => {
    if (xhr.status === 201) {
      bar.value = 100;
      $('file-input').value = '';
      done(`uploaded ${file.name}`);
      if (room === view.room) listFiles();
      return;
    }
    let why = `${xhr.status}`;
    try { why = JSON.parse(xhr.responseText).error || why; } catch { /* not JSON */ }
    done(`not uploaded: ${why}`);
  });
  xhr.addEventListener('error', () => done('not uploaded: the connection failed; try again'));
  xhr.send(file);
}

// A room opened: nothing shown yet.
export function opened(uri) {
  $('file-list').replaceChildren();
  $('upload-status').textContent = '';
  view.room = uri;
  view.oldest = 0;
  view.more = false;
  view.loading = false;
  view.members = new Set();
  renderRoster();
  showOlderButton();
}

// The join's answer (also a resume's): facts, roster, and the oldest back-chat message.
export function joined(m) {
  showFacts(m);
  view.members = new Set(m.members || []);
  renderRoster();
  listFiles();
  // A gap reloads the list (app.js): its oldest is the back-chat's first again.
  const first = m.backchat.length ? m.backchat[0].seq : 0;
  if (first && (m.gap || !view.oldest || first < view.oldest)) {
    view.oldest = first;
    view.more = first > 1;
  }
  showOlderButton();
}

// A message was added at the end (live, or my own post): the first one starts the paging;
// the file service's announcement of an upload (app/file_api.h) refreshes the file list.
export function shown(m) {
  if (m.room !== view.room) return;
  if (m.seq && !view.oldest) {
    view.oldest = m.seq;
    view.more = m.seq > 1;
    showOlderButton();
  }
  if (typeof m.text === 'string' && m.text.startsWith('shared a file: ')) listFiles();
}

export function loadOlder() {
  if (view.loading || !view.more || !view.room) return;
  if (!ctx.send({ type: 'older', room: view.room, before: view.oldest, count: PAGE })) return;
  view.loading = true;
  showOlderButton();
}

// A page of older messages: put above what is shown, keeping the reader's place.
export function older(m) {
  if (m.room !== view.room) return;
  view.loading = false;
  const list = $('messages');
  const fromBottom = list.scrollHeight - list.scrollTop;
  const items = [];
  for (const msg of m.messages) {
    if (view.oldest && msg.seq >= view.oldest) continue; // shown already
    items.push(ctx.messageItem(msg));
  }
  list.prepend(...items);
  list.scrollTop = list.scrollHeight - fromBottom;
  if (m.messages.length) view.oldest = Math.min(view.oldest || Infinity, m.messages[0].seq);
  view.more = m.more && view.oldest > 1;
  showOlderButton();
}

export function roomInfo(m) {
  if (m.room === view.room) showFacts(m);
}

export function member(m, present) {
  if (m.room !== view.room) return;
  if (present) view.members.add(m.user); else view.members.delete(m.user);
  renderRoster();
}

export function closed() {
  view.room = '';
  view.loading = false;
}
