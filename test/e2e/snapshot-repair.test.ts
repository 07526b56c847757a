/** A damaged layer is rewritten by the next build; a name that moves keeps the old snapshot unless --force. */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { open, utimes, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseJson, removeTempDirs, runBin, tempDir } from "./helpers.ts";

// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(removeTempDirs);

/** Flip the first byte of a layer's data region (a file's content: the header stays valid). */
async function damage(path: string): Promise<void> {
  const fh = await open(path, "r+");
  const b = new Uint8Array(1);
  await fh.read(b, 0, 1, 0);
  await fh.write(new Uint8Array([b[0]! ^ 0xff]), 0, 1, 0);
  await fh.close();
}
const layerFiles = (home: string) => readdirSync(join(home, "snapshots", "layers")).filter((n) => n.endsWith(".layer")).map((n) => join(home, "snapshots", "layers", n));

describe("snapshot repair", () => {
  test("after a damaged layer the next build writes it again (no cache hit) and the snapshot verifies", async () => {
    const home = await tempDir("aos-snap-rep-home-");
    const src = await tempDir("aos-snap-rep-src-");
    await writeFile(join(src, "data.txt"), "precious data\n");
    await Bun.sleep(100); // past the stat cache's racy window: the rebuild predicts its layers from metadata
    const env = { PAPERCLIP_AOS_HOME: home };
    expect((await runBin(["snapshot", "build", ".", "--name", "s"], { cwd: src, env })).code).toBe(0);
    const hit = parseJson((await runBin(["snapshot", "build", ".", "--name", "s", "--json"], { cwd: src, env })).stdout);
    expect(hit.cached).toBe(true);
    await damage(layerFiles(home)[0]!);
    expect((await runBin(["snapshot", "inspect", "s", "--verify"], { cwd: src, env })).code).toBe(1);

    const r = await runBin(["snapshot", "build", ".", "--name", "s", "--json"], { cwd: src, env });
    expect(r.code).toBe(0);
    const j = parseJson(r.stdout);
    expect(j.cached).toBe(false);
    expect(j.layersRepaired).toBe(1);
    expect(j.layersWritten).toBe(1);
    expect(r.stderr).toContain("damaged and was written again");
    expect((await runBin(["snapshot", "inspect", "s", "--verify"], { cwd: src, env })).code).toBe(0);
  });

  test("rm + gc + build rewrites a damaged layer another snapshot shares; both snapshots verify afterwards", async () => {
    const home = await tempDir("aos-snap-shared-home-");
    const a = await tempDir("aos-snap-shared-a-");
    const b = await tempDir("aos-snap-shared-b-");
    // A big file gets a layer of its own: the same file (content, mode, mtime) in two trees is one shared layer.
    const big = randomBytes(5 << 20);
    for (const d of [a, b]) {
      await writeFile(join(d, "big.bin"), big);
      await utimes(join(d, "big.bin"), 1_700_000_000, 1_700_000_000);
    }
    await writeFile(join(a, "a.txt"), "a\n");
    await writeFile(join(b, "b.txt"), "b\n");
    await Bun.sleep(100);
    const env = { PAPERCLIP_AOS_HOME: home };
    expect((await runBin(["snapshot", "build", a, "--name", "a"], { env })).code).toBe(0);
    expect((await runBin(["snapshot", "build", b, "--name", "b"], { env })).code).toBe(0);
    const shared = layerFiles(home).sort((x, y) => statSync(y).size - statSync(x).size)[0]!;
    await damage(shared);

    expect((await runBin(["snapshot", "rm", "a"], { env })).code).toBe(0);
    expect((await runBin(["snapshot", "gc"], { env })).code).toBe(0);
    const r = await runBin(["snapshot", "build", a, "--name", "a", "--json"], { env });
    expect(r.code).toBe(0);
    expect(parseJson(r.stdout).layersRepaired).toBe(1);
    expect((await runBin(["snapshot", "inspect", "a", "--verify"], { env })).code).toBe(0);
    expect((await runBin(["snapshot", "inspect", "b", "--verify"], { env })).code).toBe(0);
  });
});

describe("snapshot names that move", () => {
  test("build --name onto another snapshot warns and keeps the old one through gc; --force lets gc remove it", async () => {
    const home = await tempDir("aos-snap-move-home-");
    const src = await tempDir("aos-snap-move-src-");
    const env = { PAPERCLIP_AOS_HOME: home };
    const build = (...extra: string[]) => runBin(["snapshot", "build", ".", "--name", "site", "--json", ...extra], { cwd: src, env });
    await writeFile(join(src, "v.txt"), "1\n");
    const first = parseJson((await build()).stdout).id as string;
    await writeFile(join(src, "v.txt"), "2\n");
    const moved = await build();
    expect(moved.code).toBe(0);
    expect(moved.stderr).toContain(`the name 'site' moved from snapshot ${first.slice(7, 19)} to this one; ${first.slice(7, 19)} is kept`);
    const second = parseJson(moved.stdout).id as string;
    expect(parseJson((await runBin(["snapshot", "gc", "--json"], { env })).stdout).removedSnapshots).toEqual([]);
    const ls = parseJson((await runBin(["snapshot", "ls", "--json"], { env })).stdout) as { id: string; names: string[]; retained?: { name: string } }[];
    expect(ls.find((s) => s.id === first)?.retained?.name).toBe("site");
    expect((await runBin(["snapshot", "ls"], { env })).stdout).toContain("(was site)");

    await writeFile(join(src, "v.txt"), "3\n");
    const forced = await build("--force");
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain("the next 'paperclip-aos snapshot gc' removes it");
    const gc = parseJson((await runBin(["snapshot", "gc", "--json"], { env })).stdout);
    expect(gc.removedSnapshots).toEqual([second]);
    const left = (parseJson((await runBin(["snapshot", "ls", "--json"], { env })).stdout) as { id: string }[]).map((s) => s.id);
    expect(left).toContain(first);
    expect(left).not.toContain(second);
  });

  test("exec --commit-snapshot onto a name in use warns and keeps the old snapshot", async () => {
    const home = await tempDir("aos-snap-commit-home-");
    const src = await tempDir("aos-snap-commit-src-");
    const env = { PAPERCLIP_AOS_HOME: home };
    await writeFile(join(src, "v.txt"), "1\n");
    const base = parseJson((await runBin(["snapshot", "build", ".", "--name", "base", "--json"], { cwd: src, env })).stdout).id as string;
    await writeFile(join(src, "v.txt"), "other\n");
    const other = parseJson((await runBin(["snapshot", "build", ".", "--name", "out", "--json"], { cwd: src, env })).stdout).id as string;
    const r = await runBin(["exec", "--snapshot", "base", "--commit-snapshot", "out", "--", "echo new > n.txt"], { cwd: src, env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`the name 'out' moved from snapshot ${other.slice(7, 19)}`);
    expect(parseJson((await runBin(["snapshot", "gc", "--json"], { env })).stdout).removedSnapshots).toEqual([]);
    const ids = (parseJson((await runBin(["snapshot", "ls", "--json"], { env })).stdout) as { id: string }[]).map((s) => s.id);
    expect(ids).toContain(base);
    expect(ids).toContain(other);
  });
});
