// Privacy in transit on the flight panel: its state, and lifting it for this flight with a reason.
import { api } from "./api.js";

const ENDED = new Set(["landed", "completed", "aborted"]);

export function privacyText(flight) {
  if (!flight) return "—";
  if (flight.privacy_lifted_at) return `lifted by ${flight.privacy_lifted_by}: ${flight.privacy_lift_reason}`;
  return "in transit: camera at the horizon, recording on scene only";
}

export function privacyButton(flight, may, failure) {
  if (!flight || !may.privacy || flight.privacy_lifted_at || ENDED.has(flight.state)) return null;
  const button = document.createElement("button");
  button.dataset.action = "lift-privacy";
  button.textContent = "Lift privacy…";
  button.addEventListener("click", async () => {
    const reason = (window.prompt("Why may the camera look down in transit? (e.g. search, location unclear)") || "").trim();
    if (!reason) return;
    try {
      const lifted = await api("POST", `/flights/${flight.id}/privacy`, { reason });
      Object.assign(flight, lifted);
      const shown = document.querySelector('#flight-state dd[data-field="privacy"]');
      if (shown) shown.textContent = privacyText(flight);
      button.remove();
    } catch (error) {
      failure(error);
    }
  });
  return button;
}
