/**
 * The js_bridge calls the router answers for our mounts (src/runtime/sidecar-router.ts), on a real host directory:
 * the wire shapes agentOS 0.2.21's sidecar sends and expects (base64 contents, call ids, errno-first errors), and no
 * write on a read-only mount. The routing between VMs on one sidecar is proved with real VMs in
 * test/e2e/worker.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HostDirectoryVfs } from "../../src/runtime/host-dir-vfs.ts";
import { answerBridgeCall } from "../../src/runtime/sidecar-router.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

let root: string;
beforeAll(async () => {
  root = await tempDir("aos-router-unit-");
  writeFileSync(join(root, "a.txt"), "hello world");
});
afterAll(removeTempDirs);

const b64 = (s: string) => Buffer.from(s).toString("base64");
const call = (fs: HostDirectoryVfs, readOnly: boolean, operation: string, args: Record<string, unknown>) => answerBridgeCall(fs, readOnly, { call_id: 7, operation, args });

describe("answerBridgeCall", () => {
  test("reads and writes travel as base64; pwrite changes only its range; results carry the call id", async () => {
    const fs = new HostDirectoryVfs({ root, guestPath: "/workspace" });
    expect(await call(fs, false, "readFile", { path: "/a.txt" })).toEqual({ type: "js_bridge_result", call_id: 7, result: b64("hello world") });
    expect(await call(fs, false, "pread", { path: "/a.txt", offset: 6, length: 5 })).toMatchObject({ result: b64("world") });
    expect(await call(fs, false, "writeFile", { path: "/b.txt", content: b64("new") })).toEqual({ type: "js_bridge_result", call_id: 7 });
    expect(readFileSync(join(root, "b.txt"), "utf8")).toBe("new");
    await call(fs, false, "pwrite", { path: "/a.txt", offset: 0, content: b64("HELLO") });
    expect(readFileSync(join(root, "a.txt"), "utf8")).toBe("HELLO world");
    expect(await call(fs, false, "rename", { oldPath: "/b.txt", newPath: "/c.txt" })).toEqual({ type: "js_bridge_result", call_id: 7 });
    expect(existsSync(join(root, "c.txt"))).toBe(true);
    expect(await call(fs, false, "stat", { path: "/c.txt" })).toMatchObject({ result: { size: 3, isDirectory: false } });
  });

  test("errors come back as the errno-first message the sidecar maps to the guest's errno, naming the guest path", async () => {
    const fs = new HostDirectoryVfs({ root, guestPath: "/workspace" });
    const r = await call(fs, false, "readFile", { path: "/missing" });
    expect(r).toEqual({ type: "js_bridge_result", call_id: 7, error: "ENOENT: no such file or directory, open '/workspace/missing'" });
    expect(await call(fs, false, "chmod", { path: "/a.txt", mode: "x" })).toMatchObject({ error: "js_bridge args.mode must be a number" });
    expect(await call(fs, false, "nope", { path: "/a.txt" })).toMatchObject({ error: "Unsupported js_bridge operation: nope" });
  });

  test("a read-only mount refuses every write with EROFS and changes nothing; reads still work", async () => {
    const fs = new HostDirectoryVfs({ root, guestPath: "/workspace" });
    const before = readFileSync(join(root, "a.txt"), "utf8");
    for (const [op, args] of [
      ["writeFile", { path: "/a.txt", content: b64("x") }],
      ["pwrite", { path: "/a.txt", offset: 0, content: b64("x") }],
      ["truncate", { path: "/a.txt", length: 0 }],
      ["removeFile", { path: "/a.txt" }],
      ["mkdir", { path: "/d" }],
      ["rename", { oldPath: "/a.txt", newPath: "/z.txt" }],
      ["symlink", { target: "a.txt", linkPath: "/l" }],
    ] as const) {
      expect({ op, r: await call(fs, true, op, args) }).toMatchObject({ op, r: { error: expect.stringMatching(/^EROFS/) } });
    }
    expect(readFileSync(join(root, "a.txt"), "utf8")).toBe(before);
    for (const p of ["z.txt", "d", "l"]) expect(existsSync(join(root, p))).toBe(false);
    expect(await call(fs, true, "readFile", { path: "/a.txt" })).toMatchObject({ result: b64(before) });
  });
});
