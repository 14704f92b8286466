const api = "/manage/v1/";
const form = document.getElementById("room-form");
const F = n => form.elements[n];  // not form[n]: inputs named "id" or "name" would clash
const show = msg => { document.getElementById("error").textContent = msg || ""; };
const list = s => s.split(",").map(x => x.trim()).filter(x => x);
async function call(method, path, body) {
  const r = await fetch(api + path, {method, credentials: "same-origin",
    headers: body ? {"Content-Type": "application/json"} : {}, body: body ? JSON.stringify(body) : undefined});
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
  return j;
}
function edit(room) {
  document.getElementById("form-title").textContent = room ? "Edit " + room.name : "Create a room";
  F("id").value = room ? room.id : "";
  for (const f of ["name", "description", "privacy", "type"]) F(f).value = room ? room[f] : (f === "privacy" ? "closed" : f === "type" ? "normal" : "");
  for (const f of ["members", "managers", "presenters"]) F(f).value = room ? room[f].join(", ") : "";
  F("disabled").checked = room ? room.disabled : false;
  F("category").disabled = !!room;
}
async function load() {
  try {
    const [cats, rooms] = await Promise.all([call("GET", "categories"), call("GET", "rooms")]);
    const sel = document.getElementById("categories");
    sel.innerHTML = "";
    for (const c of cats) { const o = document.createElement("option"); o.value = c.id; o.textContent = c.name; sel.appendChild(o); }
    const body = document.querySelector("#rooms tbody");
    body.innerHTML = "";
    for (const r of rooms) {
      const tr = document.createElement("tr");
      for (const v of [r.name, r.privacy, r.type, r.members.length, r.disabled ? "yes" : ""]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      const td = document.createElement("td"), b = document.createElement("button");
      b.textContent = "Edit"; b.onclick = () => edit(r); td.appendChild(b); tr.appendChild(td);
      body.appendChild(tr);
    }
    show("");
  } catch (e) { show(e.message); }
}
form.onsubmit = async ev => {
  ev.preventDefault();
  const body = {name: F("name").value, description: F("description").value, privacy: F("privacy").value,
    type: F("type").value, members: list(F("members").value), managers: list(F("managers").value),
    presenters: list(F("presenters").value), disabled: F("disabled").checked};
  try {
    if (F("id").value) await call("PATCH", "rooms/" + encodeURIComponent(F("id").value), body);
    else await call("POST", "rooms", Object.assign(body, {category: F("category").value}));
    edit(null); load();
  } catch (e) { show(e.message); }
};
document.getElementById("new-room").onclick = () => edit(null);
F("name").onchange = async () => {
  const note = document.getElementById("name-note");
  note.textContent = "";
  if (F("id").value || !F("name").value) return;
  try {
    const r = await call("GET", "names?room=" + encodeURIComponent(F("name").value));
    note.textContent = r.available ? "available" : "taken: choose another name";
  } catch (e) { show(e.message); }
};
load();
