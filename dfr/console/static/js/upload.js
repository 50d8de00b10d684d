// An owner's upload page: the link's token (from the URL fragment) authorises chunked uploads.
const $ = (id) => document.getElementById(id);
const fragment = new URLSearchParams(location.hash.slice(1));
const token = fragment.get("token") || "";
const requestId = Number(fragment.get("request"));
let link = null;

async function call(method, path, { json, form } = {}) {
  const headers = { "X-Link-Token": token };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  const response = await fetch(`/api/v1/public/footage${path}`, { method, headers, body });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.detail) || `HTTP ${response.status}`);
  return data;
}

function megabytes(bytes) {
  return `${(bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0)} MB`;
}

function showClip(clip) {
  const item = document.createElement("li");
  item.dataset.sha256 = clip.sha256;
  const title = document.createElement("div");
  title.textContent = `${clip.file_name}: ${clip.duration_s} s ${clip.codec}, ${clip.size_bytes} bytes`;
  const hash = document.createElement("div");
  hash.className = "hash";
  hash.textContent = `SHA-256 ${clip.sha256}`;
  item.append(title, hash);
  $("clips").append(item);
}

async function send(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  $("error").textContent = "";
  $("send").disabled = true;
  try {
    const upload = await call("POST", "/uploads", { json: { request_id: requestId, file_name: file.name, size_bytes: file.size } });
    let offset = upload.received_bytes;
    while (offset < file.size) {
      const form = new FormData();
      form.append("chunk", file.slice(offset, offset + upload.chunk_bytes), "chunk");
      const state = await call("PUT", `/uploads/${upload.upload_id}/chunks?offset=${offset}`, { form });
      offset = state.received_bytes;
      $("progress").value = offset / file.size;
    }
    showClip(await call("POST", `/uploads/${upload.upload_id}/complete`));
    $("upload-form").reset();
  } catch (error) {
    $("error").textContent = error.message;
  } finally {
    $("send").disabled = false;
  }
}

async function start() {
  history.replaceState(null, "", location.pathname); // the token leaves the address bar
  if (!token) { $("error").textContent = "This page needs the link from your email."; return; }
  try {
    link = await call("GET", "/link");
  } catch (error) {
    $("error").textContent = error.message;
    return;
  }
  $("window").textContent = `${new Date(link.window_start).toLocaleString()} to ${new Date(link.window_end).toLocaleString()}`;
  $("message").textContent = link.message;
  $("extensions").textContent = link.extensions.join(", ");
  $("max-size").textContent = megabytes(link.max_clip_bytes);
  $("expires").textContent = new Date(link.expires_at).toLocaleDateString();
  $("file").accept = link.extensions.join(",");
  $("request").hidden = false;
  $("upload-form").addEventListener("submit", send);
  document.body.dataset.ready = "true";
}

// Another link opened in this tab changes only the fragment: start again with it.
window.addEventListener("hashchange", () => location.reload());
start();
