import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, open, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { binPath, parseJson, runBin, sharedCache, tempDir, removeTempDirs } from "./helpers.ts";

afterAll(removeTempDirs);

/**
 * Snapshot roots through the compiled binary and a real VM: `snapshot build`, then `exec --snapshot`.
 * One state dir for the main tree (builds share it); tests that damage the store get their own.
 */
const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

let home: string;
let src: string;
let outside: string;
let marker: string;
const files: Record<string, { data: Buffer; mode: number }> = {};

async function put(rel: string, data: Buffer | string, mode = 0o644) {
  const p = join(src, rel);
  await mkdir(join(p, ".."), { recursive: true });
  await writeFile(p, data);
  await chmod(p, mode);
  files[rel] = { data: Buffer.from(data), mode };
}

const bin = (args: string[], opts: { cwd?: string; timeoutMs?: number } = {}) =>
  runBin(args, { cwd: opts.cwd ?? src, env: { PAPERCLIP_AOS_HOME: home }, timeoutMs: opts.timeoutMs });

beforeAll(async () => {
  home = await tempDir("aos-snap-home-");
  const root = await tempDir("aos-snap-src-");
  src = join(root, "tree");
  outside = join(root, "outside");
  await mkdir(outside);
  marker = `HOST-SECRET-${randomBytes(6).toString("hex")}`;
  await writeFile(join(outside, "secret.txt"), marker);
  await put("README.md", "# tree\n");
  await put("a/b/c/deep.txt", "deep\n");
  await put("a/b/mid.json", JSON.stringify({ x: 1 }));
  await put("big.bin", randomBytes(9 << 20)); // bigger than all agentOS lowers together may be (about 5 MB)
  await put("tool.sh", "#!/bin/sh\necho tool-ran\n", 0o755);
  await put("private.txt", "only me\n", 0o600);
  for (let i = 0; i < 120; i++) await put(`many/f${String(i).padStart(3, "0")}.txt`, `file ${i}\n`);
  await symlink("a/b/c/deep.txt", join(src, "link-in"));
  await symlink(join(outside, "secret.txt"), join(src, "link-out-abs"));
  await symlink("../outside/secret.txt", join(src, "link-out-rel"));
  await writeFile(join(src, ".env"), `TOKEN=${marker}\n`);
  await Bun.sleep(100); // past the stat cache's racy window, so the rebuild below can be a cache hit
});

describe("snapshot build + exec --snapshot (real VM)", () => {
  let built: any;

  test("build: the id on stdout, --json with counts; a secret left out with a warning; a rebuild is a cache hit", async () => {
    const r = await bin(["snapshot", "build", ".", "--name", "tree", "--json"]);
    expect(r.code).toBe(0);
    built = parseJson(r.stdout);
    expect(built).toMatchObject({ name: "tree", files: Object.keys(files).length, cached: false });
    expect(built.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(built.bytes).toBeGreaterThan(9 << 20);
    expect(built.layers).toBeGreaterThan(2);
    expect(built.secretsExcluded).toEqual([{ path: ".env", rule: ".env*" }]);
    expect(r.stderr).toContain("--include .env");

    const again = await bin(["snapshot", "build", "."]);
    expect(again.stdout).toBe(`${built.id}\n`);
    expect(again.stderr).toContain("cached snapshot");
    const j = parseJson((await bin(["snapshot", "build", ".", "--json"])).stdout);
    expect(j).toMatchObject({ id: built.id, cached: true, layersWritten: 0 });
  });

  test("the VM reads every file back byte-identical with its mode; symlinks stay links; nothing outside the tree leaks", async () => {
    const r = await bin(["exec", "--snapshot", "tree", "--", "sha256sum $(find . -type f | sort); stat -c '%a %n' $(find . -type f | sort); readlink link-in link-out-abs; cat link-in; cat link-out-abs link-out-rel; ./tool.sh"]);
    expect(r.stdout).toContain("tool-ran\n");
    for (const [rel, f] of Object.entries(files)) {
      expect(r.stdout).toContain(`${sha(f.data)}  ./${rel}\n`);
      expect(r.stdout).toContain(`${f.mode.toString(8)} ./${rel}\n`);
    }
    expect(r.stdout).toContain(`a/b/c/deep.txt\n${join(outside, "secret.txt")}\ndeep\n`);
    expect(r.stdout + r.stderr).not.toContain(marker);
    expect(r.stdout).not.toContain("./.env");
    // The store holds the link's target text, never the content it points at.
    const grep = Bun.spawnSync(["grep", "-rl", marker, home]);
    expect(grep.stdout.toString()).toBe("");
  });

  test("writes vanish after the run; --keep-changes exports exactly the diff", async () => {
    const kept = join(await tempDir("aos-kept-"), "out");
    const r = await bin([
      "exec", "--snapshot", "tree", "--keep-changes", kept, "--json", "--",
      "echo new > new.txt; mkdir -p gen/x && echo g > gen/x/g.txt; echo more >> README.md; rm a/b/c/deep.txt; rm -r many; ln -s README.md readme-link; cat README.md",
    ]);
    expect(r.code).toBe(0);
    const j = parseJson(r.stdout);
    expect(j.stdout).toBe("# tree\nmore\n");
    expect(j.snapshot.changes.added.map((c: any) => c.path)).toEqual(["gen", "gen/x", "gen/x/g.txt", "new.txt", "readme-link"]);
    expect(j.snapshot.changes.modified).toEqual([{ path: "README.md", type: "file" }]);
    expect(j.snapshot.changes.deleted.map((c: any) => c.path)).toEqual(["a/b/c/deep.txt", "many", ...Object.keys(files).filter((f) => f.startsWith("many/")).sort()]);
    expect((await readdir(kept)).sort()).toEqual([".paperclip-aos-changes.json", "README.md", "gen", "new.txt", "readme-link"]);
    expect(await readFile(join(kept, "README.md"), "utf8")).toBe("# tree\nmore\n");
    expect(await readFile(join(kept, "gen/x/g.txt"), "utf8")).toBe("g\n");
    expect(await readlink(join(kept, "readme-link"))).toBe("README.md");
    const manifest = JSON.parse(await readFile(join(kept, ".paperclip-aos-changes.json"), "utf8"));
    expect(manifest.deleted).toEqual(j.snapshot.changes.deleted);

    // (agentOS 0.2.21's shell does not honour 2>&1, so absence is checked with test -e.)
    const after = await bin(["exec", "--snapshot", "tree", "--", "cat README.md a/b/c/deep.txt; test -e new.txt || echo no-new; test -e gen || echo no-gen; ls many | wc -l"]);
    expect(after.stdout).toBe("# tree\ndeep\nno-new\nno-gen\n120\n");
  });

  test("--commit-snapshot stacks one layer of changes on the snapshot; the parent stays as it was", async () => {
    const r = await bin(["exec", "--snapshot", "tree", "--commit-snapshot", "tree-v2", "--", "echo v2 > VERSION; rm big.bin"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("committed snapshot");
    const parent = parseJson((await bin(["snapshot", "inspect", "tree", "--json"])).stdout);
    const child = parseJson((await bin(["snapshot", "inspect", "tree-v2", "--json"])).stdout);
    expect(child.layerDetails.map((l: any) => l.id)).toEqual([...parent.layerDetails.map((l: any) => l.id), child.layerDetails.at(-1).id]);
    expect(child.layerDetails.at(-1)).toMatchObject({ whiteouts: 1, files: 1 });
    expect(child.source).toMatchObject({ kind: "commit", parent: parent.id });
    const v2 = await bin(["exec", "--snapshot", "tree-v2", "--", "cat VERSION; test -e big.bin || echo no-big; cat a/b/c/deep.txt"]);
    expect(v2.stdout).toBe("v2\nno-big\ndeep\n");
    const v1 = await bin(["exec", "--snapshot", "tree", "--", "test -e VERSION || echo no-version; wc -c < big.bin"]);
    expect(v1.stdout).toBe(`no-version\n${9 << 20}\n`);
  });

  test("two runs on one snapshot at once never see each other's writes", async () => {
    const run = (who: string) => bin(["exec", "--snapshot", "tree", "--", `echo ${who} > who.txt; echo ${who} >> README.md; sleep 2; cat who.txt README.md; ls -d who*`]);
    const [a, b] = await Promise.all([run("A"), run("B")]);
    expect(a.stdout).toBe("A\n# tree\nA\nwho.txt\n");
    expect(b.stdout).toBe("B\n# tree\nB\nwho.txt\n");
  });

  test("a one-file change rebuilds one layer; gc removes the unnamed snapshot and keeps everything named", async () => {
    await writeFile(join(src, "many/f050.txt"), "changed\n");
    await Bun.sleep(100);
    const r = parseJson((await bin(["snapshot", "build", ".", "--json"])).stdout);
    expect(r).toMatchObject({ cached: false, layersWritten: 1, layers: built.layers });
    expect(r.id).not.toBe(built.id);
    const unnamedOnly = parseJson((await bin(["snapshot", "inspect", r.id, "--json"])).stdout).layerDetails.filter((l: any) => l.sharedWith === 0);
    expect(unnamedOnly).toHaveLength(1);

    const gc = parseJson((await bin(["snapshot", "gc", "--json"])).stdout);
    expect(gc.removedSnapshots).toEqual([r.id]);
    expect(gc.removedLayers).toEqual([unnamedOnly[0].id]);
    const names = parseJson((await bin(["snapshot", "ls", "--json"])).stdout).flatMap((s: any) => s.names);
    expect(names.sort()).toEqual(["tree", "tree-v2"]);
    const v = await bin(["snapshot", "inspect", "tree-v2", "--verify", "--json"]);
    expect(parseJson(v.stdout).verified).toBe(true);
  });

  test("gc never removes a layer a running exec uses", async () => {
    await writeFile(join(src, "many/f051.txt"), "in use\n");
    await Bun.sleep(100);
    const id = (await bin(["snapshot", "build", "."])).stdout.trim();
    const running = bin(["exec", "--snapshot", id, "--", "sleep 4; cat many/f051.txt"]);
    await Bun.sleep(2500); // the exec has leased its layers by now (it leases before booting)
    const gc = parseJson((await bin(["snapshot", "gc", "--json"])).stdout);
    expect(gc.removedSnapshots).toEqual([]);
    expect(gc.keptInUse).toBe(0); // the snapshot itself is held, so its layers are kept as its own
    const done = await running;
    expect(done.stdout).toBe("in use\n");
    const later = parseJson((await bin(["snapshot", "gc", "--json"])).stdout);
    expect(later.removedSnapshots).toEqual([id]);
  });

  test("flag mistakes are exit 2 before anything boots", async () => {
    const a = await bin(["exec", "--keep-changes", "x", "--", "true"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("need --snapshot");
    const b = await bin(["exec", "--snapshot", "nope", "--", "true"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("no snapshot named or with id 'nope'");
    const c = await bin(["exec", "--snapshot", "tree", "--keep-changes", src, "--", "true"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("is not empty");
    const d = await bin(["exec", "--snapshot", "tree", "--commit-snapshot", "a/b", "--", "true"]);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain("invalid snapshot name");
  });
});

describe("snapshot store safety (own state dirs)", () => {
  test("a corrupted layer is an integrity error on use: content on read (exit 1), header before boot", async () => {
    const h = await tempDir("aos-snap-bad-");
    const dir = await tempDir("aos-snap-small-");
    await writeFile(join(dir, "data.txt"), "precious data\n");
    const env = { PAPERCLIP_AOS_HOME: h };
    expect((await runBin(["snapshot", "build", ".", "--name", "s"], { cwd: dir, env })).code).toBe(0);
    const layers = join(h, "snapshots", "layers");
    // The store keeps a stamp (.ok) beside each layer: damage the layer file itself.
    const [layer] = readdirSync(layers).filter((n) => n.endsWith(".layer"));
    const fh = await open(join(layers, layer!), "r+");
    await fh.write(new Uint8Array([0x21]), 0, 1, 0); // the data region comes first: this is data.txt's first byte
    await fh.close();
    const r = await runBin(["exec", "--snapshot", "s", "--", "cat data.txt"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("precious");
    expect(r.stderr).toMatch(/error: snapshot layer [0-9a-f]{12} is corrupted: a file's content does not match its digest \(data.txt\)/);
    expect(r.stderr).toContain("hint: ");
    const v = await runBin(["snapshot", "inspect", "s", "--verify"], { cwd: dir, env });
    expect(v.code).toBe(1);

    const bytes = readFileSync(join(layers, layer!));
    bytes[bytes.length - 12]! ^= 0x01; // inside the header
    await writeFile(join(layers, layer!), bytes);
    const early = await runBin(["exec", "--snapshot", "s", "--", "echo booted"], { cwd: dir, env });
    expect(early.code).toBe(1);
    expect(early.stdout).toBe("");
    expect(early.stderr).toContain("the header digest does not match the layer id");
  });

  test("a guest cannot write outside: links out of the tree are refused, '..' stays in the VM, --keep-changes exports links as links", async () => {
    const h = await tempDir("aos-snap-esc-");
    const dir = await tempDir("aos-snap-esc-src-");
    await writeFile(join(dir, "x.txt"), "x");
    const env = { PAPERCLIP_AOS_HOME: h };
    await runBin(["snapshot", "build", ".", "--name", "e"], { cwd: dir, env });
    const hostTarget = await tempDir("aos-snap-target-");
    const kept = join(await tempDir("aos-snap-kept-"), "k");
    const up = `../../../..${hostTarget}`;
    const r = await runBin(
      ["exec", "--snapshot", "e", "--keep-changes", kept, "--json", "--", `ln -s ${up} esc || echo refused; ln -s x.txt inside; echo up > ${up}/up.txt; echo fine`],
      { cwd: dir, env },
    );
    expect(r.code).toBe(0);
    // agentOS refuses a link out of the mount (EXDEV); a write through '..' lands in the VM's own root, never the host.
    expect(parseJson(r.stdout).stdout).toBe("refused\nfine\n");
    expect(readdirSync(hostTarget)).toEqual([]);
    expect(parseJson(r.stdout).snapshot.changes.added).toEqual([{ path: "inside", type: "symlink" }]);
    expect(await readlink(join(kept, "inside"))).toBe("x.txt");
    expect(readdirSync(kept).sort()).toEqual([".paperclip-aos-changes.json", "inside"]);
  });

  test("a build killed mid-way leaves no snapshot, and the next build completes", async () => {
    const h = await tempDir("aos-snap-kill-");
    const dir = await tempDir("aos-snap-kill-src-");
    for (let i = 0; i < 40; i++) await writeFile(join(dir, `f${i}.bin`), randomBytes(2 << 20));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, PAPERCLIP_AOS_HOME: h, PAPERCLIP_AOS_CACHE: sharedCache })) if (v !== undefined) env[k] = v;
    const p = Bun.spawn([binPath(), "snapshot", "build", "."], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    const tmp = join(h, "snapshots", "tmp");
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(existsSync(tmp) && readdirSync(tmp).length > 0)) await Bun.sleep(2);
    p.kill("SIGKILL");
    expect(await p.exited).not.toBe(0);
    const records = join(h, "snapshots", "records");
    expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
    const ok = await runBin(["snapshot", "build", ".", "--name", "k", "--json"], { cwd: dir, env: { PAPERCLIP_AOS_HOME: h } });
    expect(parseJson(ok.stdout)).toMatchObject({ name: "k", files: 40 });
    const v = await runBin(["snapshot", "inspect", "k", "--verify", "--json"], { cwd: dir, env: { PAPERCLIP_AOS_HOME: h } });
    expect(parseJson(v.stdout).verified).toBe(true);
  });
});
