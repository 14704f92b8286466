// History search (docs/WEB.md "History search"): messages of the rooms I may read, each
// result opening its room at that message. Over HTTP (/api/web/search); text from the
// server is only ever set with textContent, never as HTML.
const $ = (id) => document.getElementById(id);

let app = null; // {openRoom(uri, history), status(text)}
let target = null; // {room, seq}: the message to show once its room is joined
const kHistory = 200; // back-chat asked for when opening a room at a message (the most a join gives)

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
      app.openRoom(r.room, kHistory);
    });
    li.append(b);
    ul.append(li);
  }
}

async function search(q) {
  try {
    const r = await fetch(`/api/web/search?q=${encodeURIComponent(q)}`, { credentials: 'same-origin' });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.error || `search failed (${r.status})`);
    render(j.results);
    if (j.truncated) app.status('more messages match: make the search narrower');
  } catch (e) {
    app.status(e.message);
  }
}

// The room's back-chat is shown: mark and scroll to the message a result opened it at.
export function joined(room) {
  if (!target || target.room !== room) return;
  const { seq } = target;
  target = null;
  for (const li of document.querySelectorAll('#messages li.target')) li.classList.remove('target');
  const li = document.querySelector(`#messages li[data-seq="${Number(seq)}"]`);
  if (!li) {
    app.status(`that message (#${seq}) is older than the newest ${kHistory} of the room`);
    return;
  }
  li.classList.add('target');
  li.tabIndex = -1;
  li.scrollIntoView({ block: 'center' });
  li.focus({ preventScroll: true });
}

export function init(hooks) {
  app = hooks;
  $('msg-search').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('msg-search-text').value.trim();
    if (q) search(q);
  });
}
