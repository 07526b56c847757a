// The build's one-byte Pi SDK bundle (src/runtime/pi-bundle-patch.ts), on the real Pi package: every copy of the
// bundle becomes ASCII (a one-byte V8 string in each session), its code is the original's token for token, the
// package keeps its length and every other byte, and the bundle's hash files name the new bundle.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PiBundlePatchError, oneByteBundle, patchPiPackage } from "../../src/runtime/index.ts";

const PI = dirname(Bun.resolveSync("@agentos-software/pi/package.json", import.meta.dir));
const pkg = new Uint8Array(readFileSync(join(PI, "dist", "package.aospkg")));
const bundle = new Uint8Array(readFileSync(join(PI, "dist", "sdk-snapshot.js")));
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
const nonAscii = (b: Uint8Array) => b.reduce((n, x) => n + (x >= 0x80 ? 1 : 0), 0);

describe("Pi's SDK bundle made one-byte", () => {
  const patched = oneByteBundle(bundle);

  test("the original has characters beyond Latin-1 (a two-byte V8 string); the patched one is ASCII of the same length", () => {
    expect([...new TextDecoder().decode(bundle)].some((c) => c.charCodeAt(0) > 0xff)).toBe(true);
    expect(patched.length).toBe(bundle.length);
    expect(nonAscii(patched)).toBe(0);
  });

  test("only comments change: the code is the original's once comments are dropped", () => {
    const t = new Bun.Transpiler({ loader: "js", minifyWhitespace: true });
    const code = (b: Uint8Array) => t.transformSync(new TextDecoder().decode(b));
    expect(code(patched)).toBe(code(bundle));
  }, 30_000);

  test("the package: every copy of the bundle and of its hash replaced, nothing else", () => {
    const out = patchPiPackage(pkg);
    expect(out.length).toBe(pkg.length);
    const count = (hay: Uint8Array, needle: Uint8Array | string) => {
      const h = Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength);
      let n = 0;
      for (let at = h.indexOf(needle); at !== -1; at = h.indexOf(needle, at + 1)) n++;
      return n;
    };
    expect(count(pkg, bundle)).toBe(2);
    expect(count(out, bundle)).toBe(0);
    expect(count(out, patched)).toBe(2);
    expect(count(out, sha256(bundle))).toBe(0);
    expect(count(out, sha256(patched))).toBe(count(pkg, sha256(bundle)));
    // The bytes that differ are all inside the bundles or the hashes.
    let differing = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== pkg[i]) differing++;
    expect(differing).toBeLessThanOrEqual(2 * nonAscii(bundle) + 2 * 64);
  }, 60_000);

  test("a bundle it does not know is refused", () => {
    const other = new Uint8Array(bundle);
    other[100] = 0x20;
    expect(() => oneByteBundle(other)).toThrow(PiBundlePatchError);
    expect(() => patchPiPackage(pkg.subarray(0, 1_000_000))).toThrow(PiBundlePatchError);
  });
});
