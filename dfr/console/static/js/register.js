// The public camera registration page: register, confirm (#confirm=...) and manage (#manage=...).
// Link tokens come from the URL fragment (never sent to the server in a URL) and travel in a header.
const RECORDS = ["street", "sidewalk", "driveway", "yard", "parking", "entrance", "audio"];
const $ = (id) => document.getElementById(id);
const fragment = new URLSearchParams(location.hash.slice(1));
const manageToken = fragment.get("manage");
let marker = null;
let map = null;

async function call(method, path, body, linkToken) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (linkToken) headers["X-Link-Token"] = linkToken;
  const response = await fetch(`/api/v1/public${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const field = data && data.errors && data.errors[0] ? `${data.errors[0].field}: ` : "";
    throw new Error(data ? field + (data.errors && data.errors[0] ? data.errors[0].reason : data.detail) : `HTTP ${response.status}`);
  }
  return data;
}

function say(text, isError) {
  $("status").hidden = isError;
  $("status").textContent = isError ? "" : text;
  $("error").textContent = isError ? text : "";
}

function place(lat, lon) {
  $("lat").value = lat.toFixed(6);
  $("lon").value = lon.toFixed(6);
  if (!map) return;
  if (marker) marker.setLatLng([lat, lon]);
  else marker = L.marker([lat, lon]).addTo(map);
}

function buildRecords() {
  for (const choice of RECORDS) {
    const input = Object.assign(document.createElement("input"), { type: "checkbox", value: choice, id: `rec-${choice}` });
    const label = document.createElement("label");
    label.append(input, ` ${choice}`);
    $("records").append(label);
  }
}

function number(id) {
  const value = $(id).value.trim();
  return value === "" ? null : Number(value);
}

function formBody() {
  return {
    owner_name: $("owner_name").value,
    phone: $("phone").value || null,
    lat: number("lat"),
    lon: number("lon"),
    facing_deg: number("facing_deg"),
    fov_deg: number("fov_deg"),
    street_facing: $("street_facing").checked,
    records: RECORDS.filter((r) => $(`rec-${r}`).checked),
    description: $("description").value,
  };
}

function fill(reg) {
  $("owner_name").value = reg.owner_name;
  $("email").value = reg.email;
  $("email").disabled = true;
  $("phone").value = reg.phone || "";
  $("facing_deg").value = reg.facing_deg ?? "";
  $("fov_deg").value = reg.fov_deg ?? "";
  $("street_facing").checked = reg.street_facing;
  $("description").value = reg.description;
  for (const r of RECORDS) $(`rec-${r}`).checked = reg.records.includes(r);
  place(reg.lat, reg.lon);
  if (map) map.setView([reg.lat, reg.lon], 16);
}

async function submit(event) {
  event.preventDefault();
  $("submit").disabled = true;
  try {
    if (manageToken) {
      fill(await call("PATCH", "/camera-registration", formBody(), manageToken));
      say("Your registration was saved.");
    } else {
      const created = await call("POST", "/camera-registrations", { ...formBody(), email: $("email").value });
      say(`Thank you. We emailed a confirmation link to ${$("email").value}; the registration (number ${created.id}) becomes active when you open it.`);
      $("register-form").hidden = true;
    }
  } catch (error) {
    say(error.message, true);
  } finally {
    $("submit").disabled = false;
  }
}

async function start() {
  buildRecords();
  if (typeof L !== "undefined") {
    map = L.map($("pick-map")).setView([38.85, -104.75], 12);
    map.on("click", (e) => place(e.latlng.lat, e.latlng.lng));
  }
  $("register-form").addEventListener("submit", submit);
  const confirmToken = fragment.get("confirm");
  if (confirmToken) {
    history.replaceState(null, "", location.pathname); // the token leaves the address bar
    $("register-form").hidden = true;
    try {
      const reg = await call("POST", "/camera-registration/confirm", undefined, confirmToken);
      $("title").textContent = "Registration confirmed";
      say(`Your camera (registration ${reg.id}) is now registered. Thank you.`);
      document.body.dataset.confirmed = "true";
    } catch (error) {
      say(error.message, true);
    }
    return;
  }
  const unplugToken = fragment.get("unplug");
  if (unplugToken) {
    history.replaceState(null, "", location.pathname);
    $("register-form").hidden = true;
    $("title").textContent = "Unplug your integrated camera";
    const button = Object.assign(document.createElement("button"), { type: "button", className: "danger", id: "unplug", textContent: "Unplug now: end all sharing" });
    button.addEventListener("click", async () => {
      try {
        const done = await call("POST", "/integrated-camera/unplug", undefined, unplugToken);
        button.remove();
        say(`Camera ${done.id} is unplugged: nobody can view it live any more.`);
      } catch (error) {
        say(error.message, true);
      }
    });
    $("status").after(button);
    return;
  }
  if (manageToken) {
    $("title").textContent = "Your camera registration";
    $("submit").textContent = "Save changes";
    $("delete").hidden = false;
    $("delete").addEventListener("click", async () => {
      try {
        await call("DELETE", "/camera-registration", undefined, manageToken);
        $("register-form").hidden = true;
        say("Your registration was deleted.");
      } catch (error) {
        say(error.message, true);
      }
    });
    try {
      fill(await call("GET", "/camera-registration", undefined, manageToken));
    } catch (error) {
      $("register-form").hidden = true;
      say(error.message, true);
    }
  }
}

// Another link opened in this tab changes only the fragment: start again with it.
window.addEventListener("hashchange", () => location.reload());
start();
