/** The one error type of the client SDK, and the one a custom `connect` throws for a refused upgrade. */
import type { ErrorCode } from "../protocol/frames";

/** Codes of {@link SwitchboardError}: the server's error codes plus a few the client produces itself. */
export type ClientErrorCode =
  | ErrorCode
  /** `close()` was called (pending sends are rejected with it). */
  | "closed"
  /** The server sent a frame the client could not read. */
  | "protocol_error";

/** An error from the server (an `error` frame or a refused upgrade) or from the client itself. */
export class SwitchboardError extends Error {
  readonly code: ClientErrorCode;
  /** The send this error answers, when it answers one. */
  readonly clientId: string | undefined;
  /** HTTP status of a refused upgrade. */
  readonly status: number | undefined;
  /** WebSocket close code that ended the client. */
  readonly closeCode: number | undefined;
  /** True when the client has stopped for good because of it. */
  readonly fatal: boolean;

  constructor(
    code: ClientErrorCode,
    message: string,
    details: { clientId?: string | undefined; status?: number | undefined; closeCode?: number | undefined; fatal?: boolean } = {},
  ) {
    super(message);
    this.name = "SwitchboardError";
    this.code = code;
    this.clientId = details.clientId;
    this.status = details.status;
    this.closeCode = details.closeCode;
    this.fatal = details.fatal ?? false;
  }
}

/** What a custom `connect` throws when the server answers the upgrade with an HTTP error. */
export class UpgradeRefusedError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, code?: string, message?: string) {
    super(message ?? `WebSocket upgrade refused with HTTP ${status}`);
    this.name = "UpgradeRefusedError";
    this.status = status;
    this.code = code;
  }
}

/** Refused-upgrade statuses after which reconnecting cannot help. */
const FATAL_STATUS: Record<number, ErrorCode> = { 400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found" };

/** The error that ends a client whose connection was refused with HTTP `status`; undefined when a retry may help. */
export function refusalError(status: number | undefined, code?: unknown): SwitchboardError | undefined {
  const fatal = status === undefined ? undefined : FATAL_STATUS[status];
  if (!fatal) return undefined;
  return new SwitchboardError(fatal, `connection refused: HTTP ${status}${typeof code === "string" ? ` ${code}` : ""}`, { status, fatal: true });
}
