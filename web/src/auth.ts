/**
 * Sign-in through the URL fragment: the CRM opens `/#token=<user token>`. The fragment never reaches
 * the server; the token is kept in this tab's sessionStorage only and removed from the address bar.
 */

const KEY = "switchboard.token";

export interface Session {
  token: string;
  userId: string;
  tenantId: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

export type SignIn = { ok: true; session: Session } | { ok: false; reason: "signed_out" | "expired" };

/** Read the token from the fragment (then drop it from the address bar) or from this tab's storage. */
export function signIn(): SignIn {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromLink = fragment.get("token");
  if (fromLink !== null) {
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
    sessionStorage.setItem(KEY, fromLink);
  }
  const token = fromLink ?? sessionStorage.getItem(KEY);
  if (!token) return { ok: false, reason: "signed_out" };
  const claims = readClaims(token);
  if (!claims) {
    sessionStorage.removeItem(KEY);
    return { ok: false, reason: "expired" };
  }
  if (claims.expiresAt <= Date.now()) {
    sessionStorage.removeItem(KEY);
    return { ok: false, reason: "expired" };
  }
  return { ok: true, session: { token, ...claims } };
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/** The claims the app needs to know who it is; the server checks the signature, the app only reads. */
function readClaims(token: string): Omit<Session, "token"> | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const json: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof json !== "object" || json === null) return undefined;
    const { sub, tid, exp } = json as { sub?: unknown; tid?: unknown; exp?: unknown };
    if (typeof sub !== "string" || typeof tid !== "string" || typeof exp !== "number") return undefined;
    return { userId: sub, tenantId: tid, expiresAt: exp * 1000 };
  } catch {
    return undefined;
  }
}

/** A stable id for this tab's device (per-device rate limits and presence). */
export function deviceId(): string {
  const key = "switchboard.device";
  let id = sessionStorage.getItem(key);
  if (!id) {
    id = `web-${crypto.randomUUID().slice(0, 8)}`;
    sessionStorage.setItem(key, id);
  }
  return id;
}
