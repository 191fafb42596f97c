// Web Push message decryption on the browser's side (RFC 8291 with the aes128gcm coding of RFC 8188),
// for the local receiver and its check against RFC 8291 Appendix A.
import { createDecipheriv, hkdfSync } from "node:crypto";

const info = (label) => Buffer.concat([Buffer.from(`Content-Encoding: ${label}`), Buffer.from([0])]);

/**
 * Decrypt one aes128gcm push message body with the subscription's private ECDH key (`ecdh`, a node
 * ECDH holding it) and its 16-byte auth secret. Throws when the body is malformed or does not decrypt.
 */
export function decryptAes128gcm(body, ecdh, authSecret) {
  if (body.length < 21 + 65 + 17) throw new Error("body too short for an aes128gcm record");
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not a P-256 point`);
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  // RFC 8291 §4: one record per push message.
  if (ciphertext.length > rs) throw new Error("more than one record");

  const uaPublic = ecdh.getPublicKey();
  const ecdhSecret = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", ecdhSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, info("aes128gcm"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, info("nonce"), 12));

  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // RFC 8188 §2: the plaintext, then the delimiter 0x02 (last record), then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 2) throw new Error("no last-record delimiter");
  return padded.subarray(0, end);
}
