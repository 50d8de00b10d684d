// Sign-in shared by the console and the video wall: the login form, the /me check, the header's
// name and stream pill, and the live stream (an ended session brings the login form back).
import { api, setToken, token } from "./api.js";
import { connectStream } from "./stream.js";

const $ = (id) => document.getElementById(id);
let stream = null;

// The form is built here so both pages sign in the same way; its title is the page's.
function buildLoginForm() {
  const form = $("login");
  if (form.childElementCount) return;
  const title = document.createElement("h1");
  title.textContent = document.title;
  const label = document.createElement("label");
  const input = Object.assign(document.createElement("input"), {
    id: "login-token", type: "password", autocomplete: "off", placeholder: "dfr_…", required: true,
  });
  label.append("Access token ", input);
  const submit = Object.assign(document.createElement("button"), { type: "submit", id: "login-submit", textContent: "Sign in" });
  const error = Object.assign(document.createElement("p"), { id: "login-error", className: "error" });
  error.setAttribute("role", "alert");
  form.append(title, label, submit, error);
}

export function showLogin(message) {
  if (stream) { stream.close(); stream = null; }
  buildLoginForm();
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

// Who `candidate` belongs to (GET /me), with the app shown; null, with the login form shown, when refused.
export async function signIn(candidate) {
  setToken(candidate);
  let me;
  try {
    me = await api("GET", "/me");
  } catch (error) {
    setToken(null);
    showLogin(error.status === 401 ? "That token is unknown or revoked." : `Cannot sign in: ${error.message}`);
    return null;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").textContent = `${me.name} (${me.role})`;
  return me;
}

// The live stream to `onMessage`, its state in the header pill.
export function openStream(onMessage) {
  stream = connectStream({
    token: token(),
    onMessage,
    onStatus: (s) => { $("stream-status").dataset.state = s; $("stream-status").textContent = s; },
    onUnauthorized: () => { setToken(null); showLogin("Your session ended; sign in again."); },
  });
}

// Wires the login form to `enter(token)` and the sign-out button (after `beforeSignOut`).
export function bindLogin(enter, beforeSignOut = () => {}) {
  buildLoginForm();
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    enter($("login-token").value.trim());
  });
  $("logout").addEventListener("click", () => { beforeSignOut(); setToken(null); location.reload(); });
}
