/**
 * What an uploaded file really is, judged from its first bytes (never from the declared header),
 * and the pixel size of images. Pure functions over bytes.
 */

/** The hard ceiling on any upload, whatever a tenant configures. */
export const ATTACHMENT_HARD_MAX_BYTES = 100 * 1024 * 1024;

export const SUPPORTED_TYPES = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "application/zip",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  "text/plain",
  "text/csv",
] as const;
export type SupportedType = (typeof SUPPORTED_TYPES)[number];

const ZIP_FAMILY: readonly string[] = SUPPORTED_TYPES.filter((t) => t === "application/zip" || t.includes("openxmlformats"));

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);

/** The family the magic bytes say: image/png, image/jpeg, …, "zip" (any zip container), "text", or undefined. */
export function sniff(bytes: Uint8Array): string | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return "image/gif";
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return "image/webp";
  if (startsWith(bytes, [0x25, 0x50, 0x44, 0x46, 0x2d])) return "application/pdf";
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) || startsWith(bytes, [0x50, 0x4b, 0x05, 0x06])) return "zip";
  if (isPlainText(bytes)) return "text";
  return undefined;
}

function isPlainText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return true;
  if (bytes.subarray(0, 8192).includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The content type to store: the declared one when the bytes agree with it, else a refusal.
 * Zip containers (docx, xlsx, pptx) are told apart only by their declared type.
 */
export function resolveContentType(declared: string, bytes: Uint8Array): { ok: true; contentType: SupportedType } | { ok: false; reason: string } {
  const declaredType = declared.split(";")[0]!.trim().toLowerCase();
  const type = SUPPORTED_TYPES.find((t) => t === declaredType);
  if (type === undefined) return { ok: false, reason: `Content-Type: ${declaredType || "(none)"} is not an accepted file type` };
  const actual = sniff(bytes);
  const agrees =
    actual === type || (actual === "zip" && ZIP_FAMILY.includes(type)) || (actual === "text" && type.startsWith("text/"));
  if (!agrees) return { ok: false, reason: `body: the bytes are not ${type}${actual ? ` (they look like ${actual})` : ""}` };
  return { ok: true, contentType: type };
}

/** Width and height of a PNG, JPEG, GIF or WebP image, from its header. */
export function imageSize(bytes: Uint8Array, contentType: string): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    switch (contentType) {
      case "image/png":
        return { width: view.getUint32(16), height: view.getUint32(20) };
      case "image/gif":
        return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
      case "image/webp": {
        const chunk = String.fromCharCode(...bytes.subarray(12, 16));
        if (chunk === "VP8X") return { width: 1 + (view.getUint32(24, true) & 0xffffff), height: 1 + (view.getUint32(27, true) & 0xffffff) };
        if (chunk === "VP8L") {
          const b = view.getUint32(21, true);
          return { width: 1 + (b & 0x3fff), height: 1 + ((b >> 14) & 0x3fff) };
        }
        if (chunk === "VP8 ") return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
        return undefined;
      }
      case "image/jpeg": {
        let i = 2;
        while (i + 9 < bytes.length) {
          if (bytes[i] !== 0xff) return undefined;
          const marker = bytes[i + 1]!;
          const length = view.getUint16(i + 2);
          // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
          if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
            return { width: view.getUint16(i + 7), height: view.getUint16(i + 5) };
          }
          i += 2 + length;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}
