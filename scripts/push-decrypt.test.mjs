// The local receiver's Web Push decryption against RFC 8291 Appendix A (run by `npm run test:readme`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createECDH } from "node:crypto";
import { decryptAes128gcm } from "./push-decrypt.mjs";

const b = (s) => Buffer.from(s, "base64url");
const A = {
  plaintext: "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24",
  uaPrivate: "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
  authSecret: "BTBZMqHH6r4Tts7J_aSIgg",
  body:
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
};

function userAgent() {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(b(A.uaPrivate));
  return ecdh;
}

test("decrypts the RFC 8291 Appendix A message with the user agent's keys", () => {
  assert.equal(decryptAes128gcm(b(A.body), userAgent(), b(A.authSecret)).toString("base64url"), A.plaintext);
});

test("refuses the message under another auth secret", () => {
  assert.throws(() => decryptAes128gcm(b(A.body), userAgent(), Buffer.alloc(16)));
});

test("refuses a body whose ciphertext was altered", () => {
  const body = b(A.body);
  body[body.length - 20] ^= 1;
  assert.throws(() => decryptAes128gcm(body, userAgent(), b(A.authSecret)));
});
