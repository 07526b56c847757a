/**
 * `paperclip-aos engine install`: the pinned Rivet engine parts into <cache>/rivet/<version>/, from
 * install-template/ (exact versions and its bun.lock), with Bun's installer (this process's own Bun: the compiled
 * binary runs as `bun` with BUN_BE_BUN=1). The install happens in a temporary sibling directory, is checked, gets its
 * marker file and is renamed into place, so a half-done install (killed, full disk, registry down) never counts.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AosError, errorMessage, runtimeError } from "../errors.ts";
import { INSTALL_MARKER, RIVET_VERSION, locateRivet, rivetInstallDir, rivetRoot } from "./modules.ts";

import templatePackage from "./install-template/package.json" with { type: "json" };
import templateLock from "./install-template/bun.lock" with { type: "text" };

export interface InstallMarker {
  version: string;
  installedAt: string;
  installMs: number;
  installer: string;
}

export interface InstallOptions {
  env?: NodeJS.ProcessEnv;
  /** Reinstall even when the version is there. */
  force?: boolean;
  /** One line per phase and per line of the installer's own output. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface InstallResult {
  dir: string;
  version: string;
  /** It was there already and nothing was done. */
  alreadyInstalled: boolean;
  installMs: number;
  enginePath: string;
}

/** The marker of a finished install, or null. */
export function readInstallMarker(dir: string): InstallMarker | null {
  try {
    return JSON.parse(readFileSync(join(dir, INSTALL_MARKER), "utf8")) as InstallMarker;
  } catch {
    return null;
  }
}

export async function installRivet(opts: InstallOptions = {}): Promise<InstallResult> {
  const env = opts.env ?? process.env;
  const progress = opts.onProgress ?? (() => {});
  const dir = rivetInstallDir(env);
  const installed = readInstallMarker(dir);
  if (installed && !opts.force) {
    const found = locateRivet({ ...env, PAPERCLIP_AOS_RIVET_DIR: "" });
    if (found.found) return { dir, version: RIVET_VERSION, alreadyInstalled: true, installMs: installed.installMs, enginePath: found.enginePath };
    progress(`the install in ${dir} is incomplete (${found.reason}): installing again`);
  }
  const root = rivetRoot(env);
  await mkdir(root, { recursive: true }).catch((e) => {
    throw runtimeError(`cannot create ${root}: ${errorMessage(e)}`, "make the cache dir writable or set PAPERCLIP_AOS_CACHE", "cache_not_writable", e);
  });
  await removeStaleTemps(root);
  const tmp = join(root, `.tmp-${RIVET_VERSION}-${process.pid}-${Date.now().toString(36)}`);
  const started = performance.now();
  try {
    await mkdir(tmp);
    // The template (exact pins, and the lock file that pins the whole tree) is embedded in the binary: written out here.
    await writeFile(join(tmp, "package.json"), `${JSON.stringify(templatePackage, null, 2)}\n`);
    await writeFile(join(tmp, "bun.lock"), templateLock);
    progress(`installing rivetkit ${RIVET_VERSION} and @rivetkit/engine-cli ${RIVET_VERSION} into ${dir} (about 320 MB)`);
    await runBunInstall(tmp, { ...env, BUN_INSTALL_CACHE_DIR: env.BUN_INSTALL_CACHE_DIR || join(root, "bun-cache") }, progress, opts.signal);
    const check = locateRivet({ ...env, PAPERCLIP_AOS_RIVET_DIR: tmp });
    if (!check.found) throw runtimeError(`the install finished but is not usable: ${check.reason}`, undefined, "engine_install_failed");
    if (check.rivetkitVersion !== RIVET_VERSION) throw runtimeError(`the install has rivetkit ${check.rivetkitVersion}, not the pinned ${RIVET_VERSION}`, undefined, "engine_install_failed");
    const installMs = Math.round(performance.now() - started);
    const marker: InstallMarker = { version: RIVET_VERSION, installedAt: new Date().toISOString(), installMs, installer: `bun ${Bun.version}` };
    await writeFile(join(tmp, INSTALL_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    await moveIntoPlace(tmp, dir);
    return { dir, version: RIVET_VERSION, alreadyInstalled: false, installMs, enginePath: check.enginePath.replace(tmp, dir) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Replace `dir` with `tmp` (one rename when there is nothing yet; the old one is moved aside, then removed). */
async function moveIntoPlace(tmp: string, dir: string): Promise<void> {
  if (!existsSync(dir)) {
    try {
      await rename(tmp, dir);
    } catch (e) {
      // Another install of the same pinned version finished first: theirs counts (ours is removed by the caller).
      if (!((e as NodeJS.ErrnoException).code === "ENOTEMPTY" || (e as NodeJS.ErrnoException).code === "EEXIST") || !readInstallMarker(dir)) throw e;
    }
    return;
  }
  const old = `${tmp}-old`;
  await rename(dir, old);
  try {
    await rename(tmp, dir);
  } catch (e) {
    await rename(old, dir).catch(() => {});
    throw e;
  }
  await rm(old, { recursive: true, force: true });
}

/** Temporary dirs of installs whose process is gone (killed mid-install). */
async function removeStaleTemps(root: string): Promise<void> {
  for (const name of readdirSync(root)) {
    const m = /^\.tmp-[^-]+-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid !== process.pid;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive || pid === process.pid) await rm(join(root, name), { recursive: true, force: true });
  }
}

/**
 * `bun install` of the template: its package cache is the one `env` names (BUN_INSTALL_CACHE_DIR: installRivet's is
 * <cache>/rivet/bun-cache/, unless the user set one), never Bun's default ~/.bun/install/cache outside our dirs; frozen to its lock file, no install scripts (none is needed: the engine and the napi
 * module are prebuilt platform packages, and better-sqlite3's script would try to compile), no peer dependencies.
 */
async function runBunInstall(cwd: string, env: NodeJS.ProcessEnv, progress: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const args = ["install", "--frozen-lockfile", "--ignore-scripts", "--production", "--no-progress", "--no-summary"];
  const childEnv: NodeJS.ProcessEnv = { ...env, BUN_BE_BUN: "1", NO_COLOR: "1" };
  const tail: string[] = [];
  const code = await new Promise<number | string>((resolveCode, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"], signal });
    const onData = (b: Buffer) => {
      for (const line of b.toString().split("\n")) {
        const l = line.trim();
        if (!l) continue;
        tail.push(l);
        if (tail.length > 20) tail.shift();
        progress(`  bun: ${l}`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (e) => (signal?.aborted ? resolveCode("aborted") : reject(e)));
    child.on("close", (c, sig) => resolveCode(c ?? sig ?? "killed"));
  });
  if (signal?.aborted) {
    const exitCode = signal.reason === "SIGTERM" ? 143 : 130;
    throw new AosError(`engine install interrupted (${String(signal.reason ?? "aborted")}): nothing was installed`, { code: "interrupted", exitCode });
  }
  if (code !== 0) {
    const last = tail.filter((l) => !l.startsWith("warn:")).at(-1) ?? `exit ${code}`;
    throw runtimeError(`bun install of the engine parts failed: ${last}`, "check the npm registry is reachable (npm ping); nothing was installed", "engine_install_failed");
  }
}
