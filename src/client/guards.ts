/**
 * Type guards for what the service sends the SDK (socket frames, HTTP answers): each checks the shape it
 * names before the client relies on it. Hand-written (no schema library) so that the SDK loads by type
 * stripping alone.
 */

import type { JsonObject, Message } from "../protocol/frames";
import { ERROR_CODES, type ErrorCode } from "../protocol/errors.ts";

export type Guard<T> = (value: unknown) => value is T;

/** A guard of an object type: one guard per property, `optional(…)` for an optional one. Other properties are let through. */
export function shape<T extends object>(fields: { [K in keyof Required<T>]: Guard<T[K]> }): Guard<T> {
  const checks: [string, Guard<unknown>][] = Object.entries(fields);
  return (value): value is T => isObject(value) && checks.every(([key, check]) => check(field(value, key)));
}

export function arrayOf<T>(check: Guard<T>): Guard<T[]> {
  return (value): value is T[] => Array.isArray(value) && value.every(check);
}

export function recordOf<T>(check: Guard<T>): Guard<Record<string, T>> {
  return (value): value is Record<string, T> => isObject(value) && Object.values(value).every(check);
}

export function nullable<T>(check: Guard<T>): Guard<T | null> {
  return (value): value is T | null => value === null || check(value);
}

export function optional<T>(check: Guard<T>): Guard<T | undefined> {
  return (value): value is T | undefined => value === undefined || check(value);
}

export function both<A, B>(a: Guard<A>, b: Guard<B>): Guard<A & B> {
  return (value): value is A & B => a(value) && b(value);
}

export function oneOf<T extends string>(...values: T[]): Guard<T> {
  return (value): value is T => values.some((v) => v === value);
}

export function isString(value: unknown): value is string {
  return typeof value === "string";
}

export function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

export function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return ERROR_CODES.some((code) => code === value);
}

/** An object that is not an array (what every frame and answer is). */
export function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An own property of `o`; undefined when it has none. */
export function field(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? Object.getOwnPropertyDescriptor(o, key)?.value : undefined;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return isObject(value) && isJsonValue(value, 8);
}

function isJsonValue(value: unknown, depth: number): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (depth <= 0 || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth - 1));
  return Object.values(value).every((v) => v === undefined || isJsonValue(v, depth - 1));
}

export const isMessage: Guard<Message> = shape<Message>({
  conversationId: isString,
  seq: isNumber,
  clientId: isString,
  sender: isString,
  kind: isString,
  body: isJsonObject,
  ts: isNumber,
  replyTo: optional(isNumber),
  editedAt: optional(isNumber),
  recalled: optional((v): v is true => v === true),
  reactions: optional(recordOf(arrayOf(isString))),
});
