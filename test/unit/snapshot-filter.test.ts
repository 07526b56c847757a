import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, writeFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { compileGlob, globMatches, parseGitignore, PathFilter } from "../../src/snapshot/filter.ts";
import { chunkEntries, BIG_FILE, AVG_ENTRIES } from "../../src/snapshot/chunk.ts";
import { normalizeRel } from "../../src/snapshot/format.ts";
import { walkTree } from "../../src/snapshot/walk.ts";
import { mandatoryDenies, mandatorySecretNames } from "../../src/caps/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

const m = (pattern: string, path: string, dir = false) => globMatches(compileGlob(pattern), path, dir);

describe("globs", () => {
  test("a name without '/' matches at any depth; with '/' it is anchored", () => {
    expect(m("*.log", "a.log")).toBe(true);
    expect(m("*.log", "x/y/a.log")).toBe(true);
    expect(m("node_modules", "pkg/node_modules", true)).toBe(true);
    expect(m("/dist", "dist", true)).toBe(true);
    expect(m("/dist", "src/dist", true)).toBe(false);
    expect(m("build/out", "build/out")).toBe(true);
    expect(m("build/out", "x/build/out")).toBe(false);
  });
  test("* stays inside a segment, ** spans segments, ? is one character, classes work", () => {
    expect(m("src/*.ts", "src/a.ts")).toBe(true);
    expect(m("src/*.ts", "src/x/a.ts")).toBe(false);
    expect(m("src/**/*.ts", "src/a.ts")).toBe(true);
    expect(m("src/**/*.ts", "src/x/y/a.ts")).toBe(true);
    expect(m("**/fixtures/**", "a/fixtures/b/c")).toBe(true);
    expect(m("**/fixtures/**", "a/fixtures", true)).toBe(true);
    expect(m("file?.txt", "file1.txt")).toBe(true);
    expect(m("file?.txt", "file10.txt")).toBe(false);
    expect(m("[ab].txt", "b.txt")).toBe(true);
    expect(m("[!ab].txt", "b.txt")).toBe(false);
    expect(m("a.b", "axb")).toBe(false);
  });
  test("a trailing '/' matches directories only", () => {
    expect(m("cache/", "cache", true)).toBe(true);
    expect(m("cache/", "cache", false)).toBe(false);
  });
});

describe("gitignore", () => {
  test("rules are relative to their directory, the last match wins, ! re-includes", () => {
    const rules = parseGitignore("# comment\n*.log\n!keep.log\n/top\nsub/deep\n\\#hash\n", "pkg");
    const ignored = (p: string) => {
      let r = false;
      for (const rule of rules) if (globMatches(rule.glob, p, false)) r = !rule.negate;
      return r;
    };
    expect(ignored("pkg/a.log")).toBe(true);
    expect(ignored("pkg/x/a.log")).toBe(true);
    expect(ignored("pkg/keep.log")).toBe(false);
    expect(ignored("a.log")).toBe(false);
    expect(ignored("pkg/top")).toBe(true);
    expect(ignored("pkg/x/top")).toBe(false);
    expect(ignored("pkg/sub/deep")).toBe(true);
    expect(ignored("pkg/#hash")).toBe(true);
  });
});

describe("path filter: --exclude, --include and the mandatory-deny secrets", () => {
  test("secrets are left out unless an --include names them; '**' names nothing", () => {
    const plain = new PathFilter({});
    expect(plain.verdict(".env", false)).toMatchObject({ keep: false, why: "sensitive", sensitive: ".env*" });
    expect(plain.verdict("app/.env.local", false)).toMatchObject({ keep: false, why: "sensitive" });
    expect(plain.verdict("keys/id_ed25519", false)).toMatchObject({ keep: false, why: "sensitive" });
    expect(plain.verdict(".ssh", true)).toMatchObject({ keep: false, why: "sensitive" });
    expect(plain.verdict("src/env.ts", false)).toEqual({ keep: true });
    // Write-protected configs (hooks, rc files) are readable: they stay in a snapshot.
    expect(plain.verdict(".bashrc", false)).toEqual({ keep: true });
    // The filter's list (names only, nothing parsed) is exactly the mandatory secrets. Git's object stores are denied
    // reading too, but they are no secret of their own: a snapshot keeps them (src/caps/runtime-needs.ts GIT_STORES).
    expect(mandatorySecretNames()).toEqual(mandatoryDenies().filter((m) => m.group === "secret").map((m) => m.name));
    expect(plain.verdict(".git/objects/ab/cdef", false)).toEqual({ keep: true });
    for (const name of mandatorySecretNames()) expect(plain.verdict(name.replace(/\*/g, "x"), false)).toMatchObject({ keep: false, sensitive: name });

    expect(new PathFilter({ include: ["**"] }).verdict(".env", false).keep).toBe(false);
    expect(new PathFilter({ include: ["*"] }).verdict(".env", false).keep).toBe(false);
    expect(new PathFilter({ include: [".env"] }).verdict(".env", false)).toMatchObject({ keep: true, sensitive: ".env*" });
    expect(new PathFilter({ include: [".env*"] }).verdict("x/.env.prod", false).keep).toBe(true);
    expect(new PathFilter({ include: [".env"] }).verdict(".env.local", false).keep).toBe(false);
  });
  test("--include puts back what --exclude dropped, and never removes anything", () => {
    const f = new PathFilter({ exclude: ["*.log", "dist"], include: ["dist/keep.txt"] });
    expect(f.verdict("a.log", false).keep).toBe(false);
    expect(f.verdict("dist", true).keep).toBe(false);
    expect(f.verdict("dist/keep.txt", false, { excluded: true }).keep).toBe(true);
    expect(f.verdict("dist/other.txt", false, { excluded: true }).keep).toBe(false);
    expect(f.verdict("src/a.ts", false).keep).toBe(true);
  });
});

describe("directories cover what is below them", () => {
  test("the one-expression secret test finds every secret each rule's own glob finds, at any depth", () => {
    const plain = new PathFilter({});
    const rules = mandatorySecretNames().map((name) => ({ name, glob: compileGlob(`**/${name}`) }));
    // What the walk asks about: normalised paths, a secret directory itself (what is below it inherits its verdict).
    const leaves = mandatorySecretNames().flatMap((n) => {
      const bare = n.replace(/\/\*\*$/, "");
      return [bare.replace(/\*/g, ""), bare.replace(/\*/g, "x.y"), `x${bare.replace(/\*/g, "")}`, `${bare.replace(/\*/g, "")}x`];
    });
    let secrets = 0;
    for (const leaf of [...leaves, "env.ts", "README.md", "id_rs", "a.pem.txt", "config"])
      for (const dir of ["", "a", ".git/a", "a/b/c/d"])
        for (const isDir of [false, true]) {
          const rel = dir ? `${dir}/${leaf}` : leaf;
          const want = rules.find((r) => globMatches(r.glob, rel, isDir))?.name;
          const v = plain.verdict(rel, isDir);
          expect(v.keep ? undefined : (v as { sensitive?: string }).sensitive).toBe(want);
          if (want) secrets++;
        }
    expect(secrets).toBeGreaterThan(200);
  });

  test("a secret directory's whole subtree stays out, however deep and however broad the --include", async () => {
    const root = await tempDir("snap-walk-");
    await mkdir(join(root, "home/.config/gcloud/legacy/deep"), { recursive: true });
    await writeFile(join(root, "home/.config/gcloud/legacy/deep/creds.json"), "{}");
    await mkdir(join(root, "home/.ssh"), { recursive: true });
    await writeFile(join(root, "home/.ssh/id_ed25519"), "key");
    await writeFile(join(root, "home/.ssh/config"), "Host x");
    await writeFile(join(root, "home/ok.txt"), "ok");
    const broad = walkTree(root, { include: ["**", "home/**"] }).entries.map((e) => e.rel);
    expect(broad).toEqual(["", "home", "home/.config", "home/ok.txt"]);
    // Naming the directory (or the rule, `**/.ssh/**`) brings it back with what is below it; each file is reported.
    const named = walkTree(root, { include: ["home/.ssh"] });
    expect(walkTree(root, { include: ["**/.ssh/**"] }).sensitiveIncluded).toHaveLength(3);
    expect(named.entries.map((e) => e.rel)).toContain("home/.ssh/config");
    expect(named.sensitiveIncluded.map((s) => s.path)).toEqual(["home/.ssh", "home/.ssh/config", "home/.ssh/id_ed25519"]);
    // Naming one file brings back that file only.
    const one = walkTree(root, { include: ["home/.ssh/config"] }).entries.map((e) => e.rel);
    expect(one.filter((p) => p.includes(".ssh"))).toEqual(["home/.ssh", "home/.ssh/config"]);
  });
  test("an --include of an excluded directory puts back everything below it", async () => {
    const root = await tempDir("snap-walk-");
    await mkdir(join(root, "node_modules/keep/lib"), { recursive: true });
    await mkdir(join(root, "node_modules/drop"), { recursive: true });
    await writeFile(join(root, "node_modules/keep/lib/i.js"), "1");
    await writeFile(join(root, "node_modules/drop/i.js"), "2");
    const w = walkTree(root, { exclude: ["node_modules"], include: ["node_modules/keep"] });
    expect(w.entries.map((e) => e.rel)).toEqual(["", "node_modules", "node_modules/keep", "node_modules/keep/lib", "node_modules/keep/lib/i.js"]);
  });
});

describe("walk", () => {
  test("symlinks are stored as links, special files skipped, excluded dirs come back only as parents of included files", async () => {
    const root = await tempDir("snap-walk-");
    await mkdir(join(root, "src/deep"), { recursive: true });
    await mkdir(join(root, "dist/sub"), { recursive: true });
    await writeFile(join(root, "src/deep/a.ts"), "a");
    await writeFile(join(root, "dist/sub/keep.txt"), "k");
    await writeFile(join(root, "dist/drop.txt"), "d");
    await writeFile(join(root, ".env"), "SECRET=1");
    await writeFile(join(root, ".gitignore"), "*.tmp\n");
    await writeFile(join(root, "x.tmp"), "t");
    await symlink("/etc/passwd", join(root, "out"));
    await symlink("../../../x", join(root, "src/up"));
    Bun.spawnSync(["mkfifo", join(root, "pipe")]);
    const w = walkTree(root, { exclude: ["dist"], include: ["dist/sub/keep.txt"], respectGitignore: true });
    const paths = w.entries.map((e) => e.rel);
    expect(paths).toEqual(["", ".gitignore", "dist", "dist/sub", "dist/sub/keep.txt", "out", "src", "src/deep", "src/deep/a.ts", "src/up"]);
    expect(w.entries.find((e) => e.rel === "out")).toMatchObject({ type: "l", target: "/etc/passwd", size: 0 });
    expect(w.entries.find((e) => e.rel === "src/up")).toMatchObject({ type: "l", target: "../../../x" });
    expect(w.special).toEqual(["pipe"]);
    expect(w.sensitiveExcluded).toEqual([{ path: ".env", rule: ".env*" }]);
    expect(w.files).toBe(3);
  });
});

describe("paths", () => {
  test("'..' is resolved lexically and can never climb above the root", () => {
    expect(normalizeRel("../../etc/passwd")).toBe("etc/passwd");
    expect(normalizeRel("/a/./b/../c//d/")).toBe("a/c/d");
    expect(normalizeRel("a/../../..")).toBe("");
  });
});

describe("content-defined layers", () => {
  const tree = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ rel: `d${i % 13}/f${String(i).padStart(5, "0")}`, type: "f" as const, size: 1000 })).sort((a, b) =>
      a.rel < b.rel ? -1 : 1,
    );
  const key = (g: { rel: string; size: number }[]) => g.map((e) => `${e.rel}:${e.size}`).join("|");

  test("changing one file's size changes one layer; adding a file changes at most two", () => {
    const base = tree(3000);
    const groups = chunkEntries(base).map(key);
    expect(groups.length).toBeGreaterThan(3000 / AVG_ENTRIES / 3);
    const changed = base.map((e, i) => (i === 1234 ? { ...e, size: 5000 } : e));
    const after = chunkEntries(changed).map(key);
    expect(after.filter((g) => !groups.includes(g)).length).toBe(1);
    const inserted = [...base, { rel: "d5/zzz-new", type: "f" as const, size: 10 }].sort((a, b) => (a.rel < b.rel ? -1 : 1));
    expect(chunkEntries(inserted).map(key).filter((g) => !groups.includes(g)).length).toBeLessThanOrEqual(2);
  });
  test("a big file gets a layer of its own", () => {
    const entries = [
      { rel: "a", type: "f" as const, size: 10 },
      { rel: "b", type: "f" as const, size: BIG_FILE + 1 },
      { rel: "c", type: "f" as const, size: 10 },
    ];
    expect(chunkEntries(entries).map((g) => g.map((e) => e.rel))).toContainEqual(["b"]);
  });
});
