/**
 * Builds that fail for real, part way: a cold build hands its big files' layers to worker threads while it walks
 * (src/snapshot/build.ts), so a walk that fails after that has layers written and a lease taken. What the user must
 * see: one error line (and its hint) with the documented exit code, no snapshot listed, the lease gone (the next build
 * works), and nothing left in the store that a later build could take for a finished layer.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, renameSync, rmSync, watch, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isAosError } from "../../src/errors.ts";
import { buildSnapshot } from "../../src/snapshot/build.ts";
import { SnapshotStore } from "../../src/snapshot/store.ts";
import { binPath, parseJson, removeTempDirs, runBin, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

const storeFiles = (home: string) =>
  Object.fromEntries(["layers", "records", "tags", "leases", "cache", "tmp"].map((k) => {
    try {
      return [k, readdirSync(join(home, "snapshots", k))];
    } catch {
      return [k, []];
    }
  }));
const empty = { layers: [], records: [], tags: [], leases: [], cache: [], tmp: [] };

/**
 * A tree whose walk hands out layers and then fails in `bad`: three 5 MB files (each a layer of its own; the walk
 * hands the second and third to a worker, once it has seen 8 MB) and the directory `bad`, which `fill` makes
 * unwalkable. `bad` is renamed until readdir lists it last, so the walk meets it after the big files.
 */
async function failingTree(fill: (badDir: string) => void): Promise<{ src: string; bad: string }> {
  const src = await tempDir("aos-snap-fail-src-");
  let bad = join(src, "bad0");
  await mkdir(bad);
  fill(bad);
  for (let i = 0; i < 3; i++) await writeFile(join(src, `big${i}.bin`), randomBytes(5 << 20));
  for (let i = 1; readdirSync(src).at(-1) !== bad.slice(src.length + 1); i++) {
    expect(i).toBeLessThan(200);
    renameSync(bad, join(src, `bad${i}`));
    bad = join(src, `bad${i}`);
  }
  return { src, bad };
}

const NOT_UTF8 = Buffer.from([0x62, 0xff, 0x2e, 0x74, 0x78, 0x74]); // "b\xff.txt"

describe("a cold build whose walk fails after it handed out layers", () => {
  test("a name that is not UTF-8: exit 2, one error line naming it, no snapshot, no lease, no layer; then --exclude builds, and so does the renamed file", async () => {
    const { src, bad } = await failingTree((d) => writeFileSync(Buffer.concat([Buffer.from(`${d}/`), NOT_UTF8]), "odd\n"));
    const home = await tempDir("aos-snap-fail-home-");
    const env = { PAPERCLIP_AOS_HOME: home };

    const r = await runBin(["snapshot", "build", src, "--name", "t"], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toEqual([
      `error: cannot snapshot ${bad}/b\uFFFD.txt: its name is not valid UTF-8, which a snapshot cannot store`,
      "hint: rename it, or leave it out with --exclude",
    ]);
    const j = await runBin(["snapshot", "build", src, "--json"], { env });
    expect(j.code).toBe(2);
    expect(parseJson(j.stdout).error.code).toBe("snapshot_source_bad_name");
    // Nothing listed, nothing usable, no lease, and none of the layers the walk had handed out.
    expect(parseJson((await runBin(["snapshot", "ls", "--json"], { env })).stdout)).toEqual([]);
    expect((await runBin(["snapshot", "inspect", "t"], { env })).code).toBe(2);
    expect(storeFiles(home)).toEqual(empty);

    const ok = await runBin(["snapshot", "build", src, "--name", "t", "--exclude", bad.slice(src.length + 1), "--json"], { env });
    expect(ok.code).toBe(0);
    expect(parseJson(ok.stdout)).toMatchObject({ name: "t", files: 3, cached: false });
    renameSync(Buffer.concat([Buffer.from(`${bad}/`), NOT_UTF8]) as unknown as string, join(bad, "b.txt"));
    const all = await runBin(["snapshot", "build", src, "--name", "t", "--force", "--json"], { env });
    expect(all.code).toBe(0);
    expect(parseJson(all.stdout)).toMatchObject({ files: 4 });
    const v = await runBin(["snapshot", "inspect", "t", "--verify", "--json"], { env });
    expect(parseJson(v.stdout)).toMatchObject({ verified: true });
    expect(parseJson(v.stdout).entries.map((e: any) => e.path)).toContain(`${bad.slice(src.length + 1)}/b.txt`);
    expect(storeFiles(home).leases).toEqual([]);
  });

  test("a path longer than the kernel takes: exit 1, one error line, and the store as empty as before", async () => {
    // 25 directories of 200 characters: past PATH_MAX (4096), reachable only one directory at a time.
    const { src, bad } = await failingTree((d) => {
      const made = Bun.spawnSync(["bash", "-c", `cd "$1" && for i in $(seq 25); do mkdir ${"d".repeat(200)} && cd ${"d".repeat(200)} || exit 1; done; echo deep > deep.txt`, "_", d]);
      expect(made.exitCode).toBe(0);
    });
    try {
      const home = await tempDir("aos-snap-fail-home-");
      const r = await runBin(["snapshot", "build", src, "--json"], { env: { PAPERCLIP_AOS_HOME: home } });
      expect(r.code).toBe(1);
      const e = parseJson(r.stdout).error;
      expect(e.code).toBe("snapshot_source_unreadable");
      expect(e.message).toContain("ENAMETOOLONG");
      expect(r.stderr.trimEnd().split("\n")).toEqual([`error: ${e.message}`, `hint: ${e.hint}`]);
      expect(storeFiles(home)).toEqual(empty);
    } finally {
      // rm -rf walks one directory at a time; node's rmSync cannot name the deepest ones.
      Bun.spawnSync(["rm", "-rf", bad]);
    }
  });
});

test("a file removed between the walk and its read: a one-line error (not an internal one), and no layer left", async () => {
  const src = await tempDir("aos-snap-vanish-src-");
  await writeFile(join(src, "a.bin"), randomBytes(5 << 20)); // a layer of its own, written before z.txt's
  await writeFile(join(src, "z.txt"), "last\n");
  const home = await tempDir("aos-snap-vanish-home-");
  const store = new SnapshotStore(join(home, "snapshots"));
  let removed = false;
  const failure = await buildSnapshot({
    dir: src,
    store,
    workers: 0,
    // Called after each layer is written, in order: the first one is written, z.txt's not yet.
    onProgress: () => {
      if (!removed) rmSync(join(src, "z.txt"));
      removed = true;
    },
  }).catch((e) => e);
  expect(removed).toBe(true);
  expect(isAosError(failure)).toBe(true);
  expect(failure).toMatchObject({ code: "snapshot_source_changed", exitCode: 1, message: `${join(src, "z.txt")} was removed while the snapshot was being built` });
  expect(storeFiles(home)).toEqual(empty);
});

/**
 * Start a cold build of `src` and pause it (SIGSTOP) as soon as it takes its lease, mid-walk, for longer than the
 * progress line waits before it shows: a build that takes that long, on any machine.
 */
async function pausedBuild(src: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = await tempDir("aos-snap-prog-home-");
  const leases = join(home, "snapshots", "leases");
  await mkdir(leases, { recursive: true });
  const env: Record<string, string> = { ...(process.env as Record<string, string>), PAPERCLIP_AOS_HOME: home, NO_COLOR: "1" };
  let p: ReturnType<typeof Bun.spawn> | undefined;
  let paused: Promise<void> | undefined;
  const watcher = watch(leases, () => {
    if (paused || !p) return;
    p.kill("SIGSTOP");
    paused = Bun.sleep(1500).then(() => void p!.kill("SIGCONT"));
  });
  try {
    p = Bun.spawn([binPath(), "snapshot", "build", src, ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout as ReadableStream).text(), new Response(p.stderr as ReadableStream).text(), p.exited]);
    expect(paused).toBeDefined(); // it was paused mid-build
    return { code, stdout, stderr };
  } finally {
    watcher.close();
  }
}

test("a build that takes a while shows progress on stderr, and none with --json", async () => {
  const src = await tempDir("aos-snap-prog-src-");
  for (let i = 0; i < 24; i++) await writeFile(join(src, `f${i}.bin`), randomBytes(5 << 20));
  const shown = await pausedBuild(src, []);
  expect(shown.code).toBe(0);
  expect(shown.stderr).toMatch(/^building snapshot: \d+% \d+\/24 files, /m);
  const json = await pausedBuild(src, ["--json"]);
  expect(json.code).toBe(0);
  expect(parseJson(json.stdout)).toMatchObject({ files: 24, cached: false });
  expect(json.stderr).toBe("");
});

test("a state dir inside the tree is not walked: the same tree gives the same id, the rebuild is a cache hit, the snapshot holds only the user's files", async () => {
  const src = await tempDir("aos-snap-own-src-");
  // Big enough that the cold build writes layers into the store while it walks (the store is in the tree).
  for (let i = 0; i < 4; i++) await writeFile(join(src, `big${i}.bin`), randomBytes(5 << 20));
  await writeFile(join(src, "README.md"), "# mine\n");
  await Bun.sleep(100); // past the build cache's racy window, so the rebuild can be a cache hit
  const env = { PAPERCLIP_AOS_HOME: join(src, ".state"), PAPERCLIP_AOS_CACHE: join(src, ".cache-aos") };
  const first = await runBin(["snapshot", "build", ".", "--name", "own", "--json"], { cwd: src, env });
  expect(first.code).toBe(0);
  expect(parseJson(first.stdout)).toMatchObject({ files: 5, bytes: 4 * (5 << 20) + 7, cached: false });
  const again = await runBin(["snapshot", "build", ".", "--name", "own", "--json"], { cwd: src, env });
  expect(parseJson(again.stdout)).toMatchObject({ id: parseJson(first.stdout).id, files: 5, cached: true, layersWritten: 0 });
  const paths = parseJson((await runBin(["snapshot", "inspect", "own", "--json"], { cwd: src, env })).stdout).entries.map((e: any) => e.path);
  expect(paths).toEqual(["README.md", "big0.bin", "big1.bin", "big2.bin", "big3.bin"]);
});
