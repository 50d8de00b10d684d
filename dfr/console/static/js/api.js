// HTTP access to /api/v1 with the session token; problem+json errors become ApiError.
const TOKEN_KEY = "dfr.token";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data && (data.detail || data.title));
  return data;
}

// A list endpoint's rows ({data: [...]} or a plain array); [] when the endpoint does not exist yet.
export async function rows(path) {
  try {
    const data = await api("GET", path);
    return Array.isArray(data) ? data : (data && data.data) || [];
  } catch (error) {
    if (error.status === 404) return [];
    throw error;
  }
}
