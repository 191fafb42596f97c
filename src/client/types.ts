/** Shapes every part of the client SDK speaks in: what a send carries, its answer, and the socket it goes over. */
import type { z } from "zod";
import type { ApprovalBody, AttachmentBody, CrmCardBody, LogBody, TextBody } from "../domain/kinds";

/** The body each sendable kind accepts (the server validates it again). */
export interface SendBodies {
  text: z.input<typeof TextBody>;
  image: z.input<typeof AttachmentBody>;
  file: z.input<typeof AttachmentBody>;
  log: z.input<typeof LogBody>;
  approval: z.input<typeof ApprovalBody>;
  crm: z.input<typeof CrmCardBody>;
}

/** The server's acknowledgement of a send: the message is durably stored as `seq`. */
export interface Ack {
  clientId: string;
  seq: number;
  ts: number;
}

/** The minimum of a WebSocket the client needs: the standard one, Node's, and workerd's all fit. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

export type ConnectionState = "connecting" | "open" | "closed";

/** A user token, or a function returning a fresh one (called before every request or connection attempt). */
export type TokenSource = string | (() => string | Promise<string>);
