// Supervisor approvals: launches the agency's policy holds for a supervisor, each with its reason,
// answered with Approve (which launches, as a dispatcher's launch) or Refuse, and a reason of one's own;
// and ended flights waiting for review, published on the public transparency portal with Publish.
// Everything from outside is shown as text.
import { api, token } from "./api.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const cards = new Map();
let checkedToken = null;
let mayDecide = false;

async function refreshRole() {
  const current = token();
  if (current === checkedToken) return;
  checkedToken = current;
  mayDecide = false;
  if (!current) return;
  try {
    const me = await api("GET", "/me");
    mayDecide = me.role === "supervisor" || me.role === "admin";
  } catch {
    mayDecide = false;
  }
}

function button(label, action) {
  const b = Object.assign(document.createElement("button"), { type: "button", textContent: label });
  b.dataset.action = action;
  return b;
}

function card(item) {
  const li = document.createElement("li");
  li.className = "approval";
  li.dataset.callId = String(item.call_id);
  li.dataset.state = item.state;
  const title = document.createElement("strong");
  title.textContent = `Call ${item.call_id} · ${item.call_type} P${item.priority} ${item.call_type_text || ""}`;
  const where = document.createElement("p");
  where.textContent = item.address || "";
  const why = document.createElement("p");
  why.className = "hint";
  why.textContent = item.held_because;
  const reason = Object.assign(document.createElement("input"), {
    type: "text", maxLength: 1000, placeholder: "Reason (required)",
  });
  reason.dataset.field = "reason";
  reason.setAttribute("aria-label", "reason");
  const approve = button("Approve and launch", "approve");
  const refuse = button("Refuse", "refuse");
  const status = document.createElement("p");
  status.className = "approval-status";
  status.setAttribute("role", "status");
  const decide = async (yes) => {
    const text = reason.value.trim();
    if (!text) {
      status.textContent = "Give a reason first.";
      reason.focus();
      return;
    }
    approve.disabled = refuse.disabled = true;
    try {
      const answer = await api("POST", `/calls/${item.call_id}/approval`, { approve: yes, reason: text });
      li.dataset.state = answer.state;
      if (answer.flight_id) status.textContent = `Approved: flight ${answer.flight_id} launched.`;
      else if (answer.launch_refused) status.textContent = `Approved, not launched: ${answer.launch_refused}`;
      else status.textContent = "Refused.";
    } catch (error) {
      status.textContent = error.message;
      approve.disabled = refuse.disabled = false;
    }
  };
  approve.addEventListener("click", () => decide(true));
  refuse.addEventListener("click", () => decide(false));
  const buttons = document.createElement("div");
  buttons.className = "buttons";
  buttons.append(reason, approve, refuse);
  li.append(title, where, why, buttons, status);
  return li;
}

const reviewCards = new Map();

// The review list lives in the approvals panel; built here so the page needs no other markup.
function reviewList() {
  let list = $("reviews");
  if (!list) {
    const heading = document.createElement("h2");
    heading.textContent = "Flights to review for the public log";
    list = Object.assign(document.createElement("ol"), { id: "reviews", className: "queue" });
    list.setAttribute("aria-label", "flights to review");
    $("approvals-panel").append(heading, list);
  }
  return list;
}

function reviewCard(item) {
  const li = document.createElement("li");
  li.className = "review";
  li.dataset.flightId = String(item.flight_id);
  li.dataset.state = "pending";
  const title = document.createElement("strong");
  const when = item.started_at ? new Date(item.started_at).toLocaleString() : "";
  const what = item.call_type ? `${item.call_type} (${item.category})` : "pilot flight";
  title.textContent = `Flight ${item.flight_id} · ${item.drone_id} · ${what} · ${when}`;
  const purpose = Object.assign(document.createElement("input"), {
    type: "text", maxLength: 200, placeholder: "Public purpose (optional)",
  });
  purpose.dataset.field = "purpose";
  purpose.setAttribute("aria-label", "public purpose");
  const publish = button("Publish", "publish");
  const status = document.createElement("p");
  status.className = "review-status";
  status.setAttribute("role", "status");
  publish.addEventListener("click", async () => {
    publish.disabled = true;
    try {
      await api("POST", `/flights/${item.flight_id}/review`, { purpose: purpose.value.trim() });
      li.dataset.state = "published";
      status.textContent = "Published on the transparency portal.";
    } catch (error) {
      status.textContent = error.message;
      publish.disabled = false;
    }
  });
  const row = document.createElement("div");
  row.className = "buttons";
  row.append(purpose, publish);
  li.append(title, row, status);
  return li;
}

async function pollReviews() {
  const pending = (await api("GET", "/reviews/pending")).data;
  const ids = new Set(pending.map((f) => String(f.flight_id)));
  const list = reviewList();
  for (const item of pending) {
    const id = String(item.flight_id);
    if (!reviewCards.has(id)) {
      const li = reviewCard(item);
      reviewCards.set(id, li);
      list.append(li);
    }
  }
  for (const [id, li] of reviewCards) {
    if (!ids.has(id) && li.dataset.state === "pending") {
      li.remove();
      reviewCards.delete(id);
    }
  }
}

async function poll() {
  try {
    await refreshRole();
    const panel = $("approvals-panel");
    if (!panel || !mayDecide || $("app").hidden) {
      if (panel) panel.hidden = true;
      return;
    }
    const pending = (await api("GET", "/approvals")).data;
    const ids = new Set(pending.map((a) => String(a.call_id)));
    for (const item of pending) {
      const id = String(item.call_id);
      if (!cards.has(id)) {
        const li = card(item);
        cards.set(id, li);
        $("approvals").append(li);
      }
    }
    // Answered elsewhere: gone; answered here: kept with its outcome until the next sign-in.
    for (const [id, li] of cards) {
      if (!ids.has(id) && li.dataset.state === "pending") {
        li.remove();
        cards.delete(id);
      }
    }
    $("approvals-count").textContent = pending.length ? String(pending.length) : "";
    panel.hidden = false;
    await pollReviews();
  } catch {
    // The next poll tries again (a refused token brings the login form back through the console).
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
