/**
 * Finding the Rivet engine parts (src/rivet/modules.ts): what counts as installed and the one error when they are
 * not. Loading the real rivetkit and running the real engine is the Rivet lane's job (test/rivet/lane.sh).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENGINE_MISSING_EXIT, RIVET_VERSION, loadRivet, locateRivet, requireRivet, rivetInstallDir } from "../../src/rivet/index.ts";
import { isAosError } from "../../src/errors.ts";
import { CappedLog } from "../../src/capped-log.ts";
import template from "../../src/rivet/install-template/package.json" with { type: "json" };
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

describe("locating the engine parts", () => {
  test("an empty cache dir: not installed, and requireRivet says how to install them with exit 3", async () => {
    const cache = await tempDir("aos-rivet-");
    const env = { PAPERCLIP_AOS_CACHE: cache };
    const r = locateRivet(env);
    expect(r).toMatchObject({ found: false, source: "cache", dir: join(cache, "rivet", RIVET_VERSION) });
    let err: unknown;
    try {
      requireRivet(env);
    } catch (e) {
      err = e;
    }
    expect(isAosError(err) && err.exitCode).toBe(ENGINE_MISSING_EXIT);
    expect(isAosError(err) && err.hint).toContain("paperclip-aos engine install");
    expect(isAosError(err) && err.message.split("\n")).toHaveLength(1);
    await expect(loadRivet(env)).rejects.toMatchObject({ exitCode: ENGINE_MISSING_EXIT, code: "engine_not_installed" });
  });

  test("a half-done install (files but no marker) does not count", async () => {
    const cache = await tempDir("aos-rivet-");
    const dir = rivetInstallDir({ PAPERCLIP_AOS_CACHE: cache });
    mkdirSync(join(dir, "node_modules", "rivetkit"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "rivetkit", "package.json"), JSON.stringify({ name: "rivetkit", version: RIVET_VERSION }));
    expect(locateRivet({ PAPERCLIP_AOS_CACHE: cache })).toMatchObject({ found: false, reason: `${dir} is not a finished install` });
  });

  test("PAPERCLIP_AOS_RIVET_DIR is the only place looked at when set, and its error names it", async () => {
    const cache = await tempDir("aos-rivet-");
    const env = { PAPERCLIP_AOS_CACHE: cache, PAPERCLIP_AOS_RIVET_DIR: join(cache, "nope") };
    expect(locateRivet(env)).toMatchObject({ found: false, source: "env", reason: `PAPERCLIP_AOS_RIVET_DIR=${join(cache, "nope")} does not exist` });
    expect(() => requireRivet(env)).toThrow(/PAPERCLIP_AOS_RIVET_DIR/);
    mkdirSync(join(cache, "empty"));
    expect(locateRivet({ ...env, PAPERCLIP_AOS_RIVET_DIR: join(cache, "empty") })).toMatchObject({ found: false, reason: `${join(cache, "empty")}/node_modules has no rivetkit` });
  });

  test("the install template pins exact versions, the same for rivetkit and the engine", () => {
    for (const v of Object.values(template.dependencies)) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    expect(template.dependencies["@rivetkit/engine-cli"]).toBe(RIVET_VERSION);
    expect(RIVET_VERSION).toBe(template.dependencies.rivetkit);
  });
});

describe("engine.log is capped (src/capped-log.ts)", () => {
  test("past the cap the log moves to .1 (the older one dropped) and a new one starts; a full log is rotated on open", async () => {
    const dir = await tempDir("aos-engine-log-");
    const path = join(dir, "engine.log");
    const line = (n: number, c: string) => new TextEncoder().encode(`${c.repeat(n - 1)}\n`);
    writeFileSync(path, "old\n");
    const log = new CappedLog(path, 100);
    log.write(line(60, "a")); // 4 + 60 = 64: fits, the existing file is continued
    expect(readFileSync(path, "utf8")).toBe(`old\n${"a".repeat(59)}\n`);
    log.write(line(60, "b")); // 64 + 60 > 100: rotated first
    log.write(line(30, "c"));
    log.write(line(60, "d")); // 90 + 60 > 100: rotated again, the a's are gone
    log.close();
    expect(readFileSync(`${path}.1`, "utf8")).toBe(`${"b".repeat(59)}\n${"c".repeat(29)}\n`);
    expect(readFileSync(path, "utf8")).toBe(`${"d".repeat(59)}\n`);
    expect(readdirSync(dir).sort()).toEqual(["engine.log", "engine.log.1"]);
    // Opening a log already at the cap starts a new file.
    writeFileSync(path, "x".repeat(100));
    const again = new CappedLog(path, 100);
    again.write(line(5, "e"));
    again.close();
    expect(readFileSync(`${path}.1`, "utf8")).toBe("x".repeat(100));
    expect(readFileSync(path, "utf8")).toBe("eeee\n");
  });
});
