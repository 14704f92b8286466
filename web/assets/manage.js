// "My rooms" (docs/WEB.md "My rooms"): the rooms I manage, and a form to create one (when
// the server says I am a Creator somewhere) or change one, over the room-management API
// (/manage/v1/, app/room_management_api.h) with the web client's sign-in cookie; writes carry
// X-PChat-CSRF. Text from the server is only ever set with textContent, never as HTML.
import { call as appCall } from './rooms.js';

const api = '/manage/v1/';
const $ = (id) => document.getElementById(id);

let app = null; // {user(), leaveRoom(), signedOut(reason)}
let categories = []; // where I may create rooms: [{id, name, description}]
let confirmLeave = ''; // the room id whose "I stop managing it" warning was shown

// Lync's words in plain ones (the values stay the API's).
const kPrivacy = {
  open: 'Anyone can find and join it',
  closed: 'Anyone can find it; members join',
  secret: 'Hidden; only members find and join it',
};
const kType = { normal: 'Everyone posts', auditorium: 'Only presenters post' };
const kLists = ['members', 'managers', 'presenters'];
const kFields = ['name', 'category', 'description', 'topic', ...kLists];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const F = (n) => $('room-form').elements[n]; // not form[n]: an input named "name" would clash

function status(text) { $('manage-status').textContent = text; }

// The app's one JSON call (rooms.js), on the management API; a sign-in that ended signs
// the page out.
async function call(method, path, body) {
  try {
    return await appCall(method, api + path, body);
  } catch (e) {
    if (e.status === 401) app.signedOut('your sign-in ended; sign in again');
    throw e;
  }
}

function list(text) { return text.split(/[\n,]/).map((x) => x.trim()).filter((x) => x); }

function clearErrors() {
  for (const f of kFields) $(`err-${f}`).textContent = '';
  $('form-error').textContent = '';
}

function fieldError(field, text) {
  const where = kFields.includes(field) ? $(`err-${field}`) : $('form-error');
  where.textContent = text;
  if (kFields.includes(field)) F(field).focus();
}

// What is wrong with the form before asking the server (which checks the same and more).
function invalid(body) {
  if (!body.name.trim()) return ['name', 'Give the room a name (not only spaces).'];
  if (!F('id').value && !body.category) return ['category', 'Choose a category.'];
  for (const f of kLists) {
    for (const p of body[f] || []) {
      if (!/^(sip:[^@\s,;<>"]+@[^@\s,;<>"]+|group:\S.*|domain:\S+)$/.test(p)) {
        return [f, `${p} is not a SIP address: write sip:user@domain, or group:NAME for a group.`];
      }
    }
  }
  return null;
}

function render(rooms) {
  const body = $('managed').querySelector('tbody');
  body.replaceChildren();
  $('managed-empty').hidden = rooms.length > 0;
  for (const r of rooms) {
    const tr = el('tr');
    tr.dataset.id = r.id;
    const name = el('td', 'name', r.name);
    if (r.disabled) name.append(el('span', 'off', ' (disabled)'));
    tr.append(name, el('td', 'category', r.category || ''), el('td', 'description', r.description || ''),
      el('td', 'privacy', kPrivacy[r.privacy] || r.privacy), el('td', 'type', kType[r.type] || r.type),
      el('td', 'count', String(r.members.length)));
    const td = el('td');
    const b = el('button', 'edit', 'Edit');
    b.type = 'button';
    b.setAttribute('aria-label', `Edit ${r.name}`);
    b.addEventListener('click', () => edit(r));
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
}

function fillCategories(current) {
  const sel = F('category');
  sel.replaceChildren();
  if (!current) sel.append(new Option('Choose a category', ''));
  for (const c of categories) sel.append(new Option(c.name, c.id));
  if (current && !categories.some((c) => c.id === current.id)) sel.append(new Option(current.name, current.id));
  sel.value = current ? current.id : '';
}

// The form for a new room (room null) or for changing `room`.
function edit(room) {
  clearErrors();
  confirmLeave = '';
  $('room-form').hidden = false;
  $('form-title').textContent = room ? `Change ${room.name}` : 'Create a room';
  F('id').value = room ? room.id : '';
  F('name').value = room ? room.name : '';
  F('description').value = room ? room.description : '';
  F('topic').value = room ? room.topic || '' : '';
  F('privacy').value = room ? room.privacy : 'closed';
  F('type').value = room ? room.type : 'normal';
  for (const f of kLists) F(f).value = room ? room[f].join('\n') : '';
  F('disabled').checked = room ? room.disabled : false;
  fillCategories(room ? { id: room.category_id, name: room.category || room.category_id } : null);
  // Moving a room to another category: not from this form (pchatctl, or an administrator).
  F('category').disabled = !!room;
  $('name-note').textContent = '';
  F('name').focus();
}

async function load() {
  status('loading…');
  try {
    const [cats, rooms] = await Promise.all([call('GET', 'categories'), call('GET', 'rooms')]);
    categories = cats;
    render(rooms);
    // Only Creators (in some category's scope) get the create form.
    $('new-room').hidden = categories.length === 0;
    $('not-creator').hidden = categories.length > 0;
    status('');
  } catch (e) {
    status(e.message);
  }
}

async function save(ev) {
  ev.preventDefault();
  clearErrors();
  const id = F('id').value;
  const body = {
    name: F('name').value, description: F('description').value, topic: F('topic').value, privacy: F('privacy').value,
    type: F('type').value, disabled: F('disabled').checked,
  };
  for (const f of kLists) body[f] = list(F(f).value);
  if (!id) body.category = F('category').value;
  const bad = invalid(body);
  if (bad) return fieldError(...bad);
  // A change that leaves me out of the managers takes the room out of my hands (and this
  // list): say so once, and save on the second press.
  const me = app.user().toLowerCase();
  if (id && !body.managers.some((m) => m.toLowerCase() === me) && confirmLeave !== id) {
    confirmLeave = id;
    fieldError('managers', `You are not among the managers: once saved, you can no longer change this room `
      + `and it leaves My rooms (unless a group here has you). Press Save again to go ahead.`);
    return;
  }
  $('save-room').disabled = true;
  status('saving…');
  try {
    const room = id ? await call('PATCH', `rooms/${encodeURIComponent(id)}`, body) : await call('POST', 'rooms', body);
    $('room-form').hidden = true;
    await load();
    status(`Saved ${room.name}.`);
  } catch (e) {
    status('');
    fieldError(e.field, e.message);
  } finally {
    $('save-room').disabled = false;
  }
}

async function checkName() {
  $('name-note').textContent = '';
  const name = F('name').value;
  if (F('id').value || !name.trim() || !categories.length) return;
  try {
    const r = await call('GET', `names?room=${encodeURIComponent(name)}`);
    if (F('name').value === name) $('name-note').textContent = r.available ? 'This name is free.' : `A room named ${name} exists.`;
  } catch { /* the save says what is wrong */ }
}

export function show() {
  app.leaveRoom();
  $('manage').hidden = false;
  $('room-form').hidden = true;
  $('my-rooms').setAttribute('aria-current', 'true');
  if (location.hash !== '#manage') history.replaceState(null, '', '#manage');
  load();
}

export function hide() {
  $('manage').hidden = true;
  $('my-rooms').removeAttribute('aria-current');
  if (location.hash === '#manage') history.replaceState(null, '', location.pathname + location.search);
}

export function init(appFns) {
  app = appFns;
  $('my-rooms').addEventListener('click', show);
  $('new-room').addEventListener('click', () => edit(null));
  $('cancel-room').addEventListener('click', () => { $('room-form').hidden = true; clearErrors(); });
  $('room-form').addEventListener('submit', save);
  F('name').addEventListener('change', checkName);
}
