// History search (docs/WEB.md "History search"): messages of the rooms I may read, each
// result opening its room at that message; topic feeds ("Topic feeds"): saved searches that
// light up with the matches posted since I last looked. Over HTTP (/api/web/search); text from the
// server is only ever set with textContent, never as HTML.
import { loadOlder } from './room.js';
import { call } from './rooms.js';

const $ = (id) => document.getElementById(id);

let app = null; // {openRoom(uri), currentRoom(), csrf(), active(), status(text)}
const kFeedPollMs = 5000;
let feedsShown = '';
let target = null; // {room, seq}: the message to show once its room is joined
const kMaxPages = 100; // "load older" pages walked back to an older message
const kPageWaitMs = 10000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function render(results) {
  const ul = $('msg-results');
  ul.replaceChildren();
  if (!results.length) ul.append(el('li', 'empty', 'No message found.'));
  for (const r of results) {
    const li = el('li', 'hit');
    li.dataset.room = r.room;
    li.dataset.seq = String(r.seq);
    const b = el('button', 'open-hit');
    b.type = 'button';
    b.append(el('span', 'where', `${r.name} · ${r.author} · ${r.ts ? new Date(r.ts).toLocaleString() : ''}`),
      el('span', 'text', r.text));
    b.setAttribute('aria-label', `Open ${r.name} at this message`);
    b.addEventListener('click', () => {
      target = { room: r.room, seq: r.seq };
      app.openRoom(r.room);
    });
    li.append(b);
    ul.append(li);
  }
}

async function search(q, author = '') {
  try {
    const r = await fetch(`/api/web/search?q=${encodeURIComponent(q)}&author=${encodeURIComponent(author)}`,
      { credentials: 'same-origin' });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.error || `search failed (${r.status})`);
    render(j.results);
    if (j.truncated) app.status('more messages match: make the search narrower');
  } catch (e) {
    app.status(e.message);
  }
}

function mark(li) {
  for (const old of document.querySelectorAll('#messages li.target')) old.classList.remove('target');
  li.classList.add('target');
  li.tabIndex = -1;
  li.scrollIntoView({ block: 'center' });
  li.focus({ preventScroll: true });
}

// Shows message `t.seq` of the open room: found in the list, or "load older" pages walked
// back until it is (each page waited for as a change of the list).
function seek(t, pages) {
  if (app.currentRoom() !== t.room) return;
  const li = document.querySelector(`#messages li[data-seq="${Number(t.seq)}"]`);
  if (li) return mark(li);
  const older = $('older');
  if (!older || older.hidden || pages >= kMaxPages) {
    app.status(`message #${t.seq} is not in this room's stored history any more`);
    return;
  }
  const list = $('messages');
  let timer = null;
  const watch = new MutationObserver(() => {
    watch.disconnect();
    clearTimeout(timer);
    seek(t, pages + 1);
  });
  watch.observe(list, { childList: true });
  timer = setTimeout(() => {
    watch.disconnect();
    app.status('older messages did not come; try again');
  }, kPageWaitMs);
  loadOlder();
}

// The room's back-chat is shown: mark and scroll to the message a result opened it at.
export function joined(room) {
  if (!target || target.room !== room) return;
  const t = target;
  target = null;
  seek(t, 0);
}

async function feedsCall(method, path, body) {
  renderFeeds((await call(method, path, body)).feeds);
}

function renderFeeds(feeds) {
  const key = JSON.stringify(feeds);
  if (key === feedsShown) return; // unchanged (the poll): not built again
  feedsShown = key;
  const ul = $('feeds');
  ul.replaceChildren();
  if (!feeds.length) ul.append(el('li', 'empty', 'Search messages, then save the search as a feed.'));
  for (const f of feeds) {
    const li = el('li');
    const label = [f.q, f.author ? `by ${f.author}` : ''].filter(Boolean).join(' ');
    const b = el('button', 'feed', label);
    b.type = 'button';
    b.dataset.id = String(f.id);
    if (f.new > 0) {
      const n = el('span', 'unread', `${f.new}${f.more ? '+' : ''}`);
      n.setAttribute('aria-label', `${f.new} new`);
      b.append(n);
    }
    b.addEventListener('click', async () => {
      $('msg-search-text').value = f.q;
      await search(f.q, f.author);
      feedsCall('POST', '/api/web/feeds', { id: f.id, seen: true }).catch((e) => app.status(e.message));
    });
    const x = el('button', 'remove-feed', '×');
    x.type = 'button';
    x.setAttribute('aria-label', `Remove the topic feed ${label}`);
    x.addEventListener('click', () => feedsCall('DELETE', `/api/web/feeds?id=${f.id}`).catch((e) => app.status(e.message)));
    li.append(b, x);
    ul.append(li);
  }
}

// The topic feeds again (after connecting, then every few seconds while in view).
export function refresh() {
  return feedsCall('GET', '/api/web/feeds').catch((e) => app.status(e.message));
}

export function init(hooks) {
  app = hooks;
  const poll = refresh;
  setInterval(() => { if (app.active() && document.visibilityState === 'visible') poll(); }, kFeedPollMs);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && app.active()) poll();
  });
  $('save-feed').addEventListener('click', () => {
    const q = $('msg-search-text').value.trim();
    if (!q) return app.status('type the words of the feed first');
    feedsCall('POST', '/api/web/feeds', { q }).catch((e) => app.status(e.message));
  });
  $('msg-search').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('msg-search-text').value.trim();
    if (q) search(q);
  });
}
