// The demo mailbox: the SMTP sink's messages, rendered as text (a link is shown, never made live HTML).
import { api, setToken, token } from "./api.js";

const $ = (id) => document.getElementById(id);

function render(messages) {
  const list = $("mailbox");
  list.replaceChildren();
  for (const mail of messages) {
    const item = document.createElement("li");
    item.dataset.to = mail.to.join(",");
    const head = document.createElement("div");
    head.textContent = `${new Date(mail.at).toLocaleString()} to ${mail.to.join(", ")}: ${mail.subject}`;
    const body = document.createElement("pre");
    body.className = "mail-body";
    body.textContent = mail.body;
    item.append(head, body);
    list.append(item);
  }
  document.body.dataset.count = String(messages.length);
}

async function load() {
  $("error").textContent = "";
  try {
    render((await api("GET", "/demo/mail")).data);
    $("mail-login").hidden = true;
  } catch (error) {
    $("error").textContent = error.message;
    if (error.status === 401) $("mail-login").hidden = false;
  }
}

$("mail-login").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("mail-token").value.trim());
  load();
});
$("refresh").addEventListener("click", load);
if (token()) load();
else $("mail-login").hidden = false;
