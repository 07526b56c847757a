/**
 * Mechanisms a mutation audit found untested (issue 9, "Test strength"): each assertion fails when its mechanism is
 * removed. ([::1] as loopback; a layer header swapped for other valid JSON; port-range edges.)
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { evaluate, resolvePolicy } from "../../src/caps/index.ts";
import { writeLayer } from "../../src/snapshot/layer.ts";
import { LayerReader } from "../../src/snapshot/layer.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

const policy = (doc: object) => resolvePolicy({ json: { version: 1, ...doc } });

describe("[::1] is the host's loopback", () => {
  test("allow-all network still does not reach [::1] on a port that is not exempted; the gateway's port is", () => {
    const p = policy({ allow: { "network.fetch": ["*"] } });
    expect(evaluate(p, { kind: "fetch", target: "[::1]:5432" }, { hostAddresses: [] })).toMatchObject({ decision: "deny", layer: "loopback" });
    expect(evaluate(p, { kind: "fetch", target: "example.com:5432" }, { hostAddresses: [] }).decision).toBe("allow");
    expect(evaluate(p, { kind: "fetch", target: "[::1]:4100" }, { hostAddresses: [], gatewayPort: 4100 }).decision).toBe("allow");
    // Naming [::1] with the port opens exactly that port, as for 127.0.0.1.
    const exact = policy({ allow: { "network.fetch": ["[::1]:5432"] } });
    expect(evaluate(exact, { kind: "fetch", target: "[::1]:5432" }, { hostAddresses: [] }).decision).toBe("allow");
    expect(evaluate(exact, { kind: "fetch", target: "[::1]:5433" }, { hostAddresses: [] }).decision).toBe("deny");
  });
});

describe("port ranges: the edges decide", () => {
  test("listen 8000-8100 allows both ends and nothing one past them; a single top port is its own range", () => {
    const p = policy({ allow: { "network.listen": ["8000-8100"] } });
    const listen = (port: number) => evaluate(p, { kind: "listen", target: String(port) }, { hostAddresses: [] }).decision;
    expect([7999, 8000, 8100, 8101].map(listen)).toEqual(["deny", "allow", "allow", "deny"]);
    const top = policy({ allow: { "network.listen": ["65535"] } });
    expect([65534, 65535].map((port) => evaluate(top, { kind: "listen", target: String(port) }, { hostAddresses: [] }).decision)).toEqual(["deny", "allow"]);
  });
});

describe("snapshot layers: the header is checked against the id, not only parsed", () => {
  test("a header changed to other valid JSON of the same length is refused as not matching the id", async () => {
    const dir = await tempDir("aos-strength-layer-");
    const path = join(dir, "layer");
    const layer = await writeLayer(path, [{ p: "", t: "d", m: 0o755, mt: 0 }, { p: "f", t: "f", m: 0o644, mt: 1000, data: new Uint8Array([1, 2, 3]) }]);
    expect(new LayerReader(layer.id, path).header.entries.map((e) => e.p)).toEqual(["", "f"]);
    const bytes = readFileSync(path);
    const text = bytes.toString("latin1");
    const at = text.lastIndexOf('"mt":1000');
    expect(at).toBeGreaterThan(0);
    // Same length, still valid JSON, still a valid header: only the digest can tell.
    bytes.write('"mt":2000', at, "latin1");
    chmodSync(path, 0o644);
    writeFileSync(path, bytes);
    expect(() => new LayerReader(layer.id, path)).toThrow(/the header digest does not match the layer id/);
  });
});
