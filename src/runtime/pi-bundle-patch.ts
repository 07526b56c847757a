/**
 * Pi's SDK bundle made one-byte, applied by the build (scripts/build.ts) to the Pi package it embeds.
 *
 * agentOS evaluates Pi's SDK bundle (`dist/sdk-snapshot.js` inside `@agentos-software/pi`'s `.aospkg`, 7.9 MB) into
 * a V8 startup snapshot of the sidecar, and every Pi session's isolate is made from a copy of that snapshot and holds
 * the bundle's source as a V8 string (docs/worker.md, "Memory"). V8 keeps a string in one byte a character only while
 * every character is Latin-1; the 0.2.7 bundle has 8 characters that are not (a `’` in six comments, a `≥` in two),
 * so its source is a two-byte string: 15.9 MB where 7.9 MB would do, in every session. The patch writes each of them
 * as ASCII of the same byte length (`’` as `'` and two spaces, `≥` as `>=` and a space). They are all inside comments,
 * so no code changes; what a function's `toString()` shows of such a comment is the only difference.
 *
 * The bundle is recognised by its SHA-256 (a Pi package whose bundle differs is refused: an upgrade has to look at
 * this again). The package is a tar behind agentOS's own header; the bundle is in it twice (`dist/` and the copy under
 * `node_modules/`), each beside a `.sha256` file that names it: both copies and both hashes are rewritten in place,
 * same lengths, so nothing else in the package moves.
 */

/** The 0.2.7 bundle's SHA-256 (its `dist/sdk-snapshot.js.sha256`). */
export const PI_BUNDLE_SHA256 = "311c3c4340c2be9254ac5097546ea07e437e152622225fc1f780a134b1d6bfab";
const PI_BUNDLE_LENGTH = 7944434;

/** Each character the bundle has beyond Latin-1, and the ASCII of the same UTF-8 length that replaces it. */
const REPLACEMENTS: Record<string, string> = { "\u2019": "'  ", "\u2265": ">= " };

export const PI_BUNDLE_PATCH_ID = new Bun.CryptoHasher("sha256").update(JSON.stringify({ PI_BUNDLE_SHA256, REPLACEMENTS })).digest("hex").slice(0, 12);

export class PiBundlePatchError extends Error {}

/** The one-byte bundle for the original `bundle` (refused if it is not the known one). */
export function oneByteBundle(bundle: Uint8Array): Uint8Array {
  if (sha256(bundle) !== PI_BUNDLE_SHA256) throw new PiBundlePatchError("Pi's SDK bundle is not the one the patch knows (src/runtime/pi-bundle-patch.ts): look at it again for this version");
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bundle);
  let out = "";
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) out += ch;
    else if (REPLACEMENTS[ch] !== undefined) out += REPLACEMENTS[ch];
    else throw new PiBundlePatchError(`Pi's SDK bundle has a character the patch does not know: U+${ch.codePointAt(0)!.toString(16)}`);
  }
  const bytes = new TextEncoder().encode(out);
  if (bytes.length !== bundle.length) throw new PiBundlePatchError("the one-byte bundle's length differs from the original's");
  return bytes;
}

/** The Pi package with every copy of its SDK bundle (and of the bundle's hash) made one-byte; refused if it has none. */
export function patchPiPackage(pkg: Uint8Array): Uint8Array {
  const out = new Uint8Array(pkg);
  const original = findBundle(pkg);
  const patched = oneByteBundle(original);
  const newHash = new TextEncoder().encode(sha256(patched));
  const oldHash = new TextEncoder().encode(PI_BUNDLE_SHA256);
  const bundles = occurrences(pkg, original);
  const hashes = occurrences(pkg, oldHash);
  if (bundles.length === 0 || hashes.length !== bundles.length) throw new PiBundlePatchError(`the Pi package has ${bundles.length} copies of its SDK bundle and ${hashes.length} of its hash`);
  for (const at of bundles) out.set(patched, at);
  for (const at of hashes) out.set(newHash, at);
  return out;
}

/** The bundle inside the package: found by its first bytes, checked by its hash. */
function findBundle(pkg: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode('"use strict";\n(() => {\n  var __create = Object.create;');
  for (let at = indexOf(pkg, head, 0); at !== -1; at = indexOf(pkg, head, at + 1)) {
    const candidate = pkg.subarray(at, at + PI_BUNDLE_LENGTH);
    if (candidate.length === PI_BUNDLE_LENGTH && sha256(candidate) === PI_BUNDLE_SHA256) return candidate;
  }
  throw new PiBundlePatchError("the Pi package holds no SDK bundle the patch knows (src/runtime/pi-bundle-patch.ts)");
}

function occurrences(hay: Uint8Array, needle: Uint8Array): number[] {
  const found: number[] = [];
  for (let at = indexOf(hay, needle, 0); at !== -1; at = indexOf(hay, needle, at + needle.length)) found.push(at);
  return found;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength), from);
}

function sha256(b: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(b).digest("hex");
}
