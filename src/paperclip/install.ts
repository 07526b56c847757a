import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { stateDir } from "../paths.ts";
import { runtimeError, usageError } from "../errors.ts";
import { adapterBundle } from "./bundle.ts";
import { ADAPTER_TYPE } from "./request.ts";

/**
 * `paperclip-aos paperclip install|status|uninstall`: the adapter package lives in the state dir
 * (`<state>/paperclip/agentos_local/`), points at this binary by absolute path, and is registered with a Paperclip
 * instance as a local-path external adapter, through its HTTP API or its CLI (`paperclipai adapter ... -d DIR`).
 */
export const PACKAGE_NAME = "paperclip-aos-agentos-local";

export function packageDir(root = stateDir()): string {
  return join(root, "paperclip", ADAPTER_TYPE);
}

/** Where a Paperclip instance is: its API, or its data dir driven through its own CLI. */
export type Target = { kind: "api"; url: string; apiKey?: string } | { kind: "cli"; dataDir: string; paperclipai: string };

export interface InstalledPackage {
  dir: string;
  version: string;
  command: string[];
  /** The command's binary exists (a moved or deleted binary breaks every heartbeat). */
  commandExists: boolean;
}

export async function writeAdapterPackage(opts: { command: string[]; version: string; root?: string }): Promise<InstalledPackage> {
  const staged = await placeAdapterPackage(opts);
  await staged.commit();
  return staged.pkg;
}

/**
 * `paperclip install`: everything that can fail before a write is checked first (Paperclip answers, and takes our
 * key: it is asked whether it knows the adapter), then the package is written and registered. A registration that
 * fails puts back what was there before (the previous package, or nothing: no package, no new state dirs), so a
 * failed install changes nothing Paperclip or the next install would see.
 */
export async function installAdapter(opts: {
  command: string[];
  version: string;
  root?: string;
  target?: Target;
  /** Called before each step (for the text mode's progress lines). */
  onStep?: (step: "check" | "write" | "register") => void;
}): Promise<{ pkg: InstalledPackage; registered: Registration | null }> {
  let before: Registration | null = null;
  if (opts.target) {
    opts.onStep?.("check");
    before = await registration(opts.target);
  }
  opts.onStep?.("write");
  const staged = await placeAdapterPackage(opts);
  if (!opts.target) {
    await staged.commit();
    return { pkg: staged.pkg, registered: null };
  }
  try {
    opts.onStep?.("register");
    const registered = await register(opts.target, staged.pkg.dir);
    await staged.commit();
    return { pkg: staged.pkg, registered };
  } catch (e) {
    await staged.rollback();
    // A registration Paperclip made before the failure would point at a package that is gone: taken back when it
    // did not exist before (best effort: Paperclip may be the part that failed).
    if (!before) await unregister(opts.target).catch(() => {});
    throw e;
  }
}

/**
 * Write the package beside its place and swap it in, keeping the previous one until `commit` (which removes it) or
 * `rollback` (which puts it back, or removes the new one and the directories this call created).
 */
async function placeAdapterPackage(opts: { command: string[]; version: string; root?: string }): Promise<{ pkg: InstalledPackage; commit(): Promise<void>; rollback(): Promise<void> }> {
  const dir = packageDir(opts.root);
  const bundle = await adapterBundle();
  const pkg = {
    name: PACKAGE_NAME,
    version: opts.version,
    description: "Paperclip adapter agentos_local: runs coding agents inside agentOS through paperclip-aos",
    type: "module",
    private: true,
    main: "./index.js",
    exports: { ".": "./index.js", "./ui-parser": "./ui-parser.cjs" },
    paperclip: { adapterUiParser: "1.0.0" },
    // @paperclipai/adapter-utils is the host server's (a copy of its own would break cancellation); the bundle
    // imports nothing of it at run time.
    peerDependencies: { "@paperclipai/adapter-utils": ">=2026.916.1" },
    paperclipAos: { command: opts.command },
  };
  // The directories above the package that do not exist yet (the state dir itself, on a first install): a rollback
  // removes them again.
  const created: string[] = [];
  for (let d = dirname(dir); !existsSync(d) && dirname(d) !== d; d = dirname(d)) created.push(d);
  // Written beside and swapped in, so a failed write never leaves a half package where Paperclip loads from.
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  let hadOld = false;
  try {
    await mkdir(dirname(dir), { recursive: true });
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    await writeFile(join(tmp, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
    await writeFile(join(tmp, "index.js"), bundle.index);
    await writeFile(join(tmp, "ui-parser.cjs"), bundle.uiParser);
    if (existsSync(dir)) {
      await rename(dir, old);
      hadOld = true;
    }
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (hadOld) await rename(old, dir).catch(() => {});
    for (const d of created) await rmdir(d).catch(() => {});
    throw e;
  }
  return {
    pkg: { dir, version: opts.version, command: opts.command, commandExists: existsSync(opts.command[0]!) },
    commit: () => rm(old, { recursive: true, force: true }),
    async rollback() {
      await rm(dir, { recursive: true, force: true });
      if (hadOld) await rename(old, dir);
      for (const d of created) await rmdir(d).catch(() => {});
    },
  };
}

export async function readAdapterPackage(root?: string): Promise<InstalledPackage | null> {
  const dir = packageDir(root);
  const text = await readFile(join(dir, "package.json"), "utf8").catch(() => null);
  if (text === null) return null;
  try {
    const pkg = JSON.parse(text) as { version?: string; paperclipAos?: { command?: string[] } };
    const command = pkg.paperclipAos?.command ?? [];
    return { dir, version: pkg.version ?? "unknown", command, commandExists: command[0] ? existsSync(command[0]) : false };
  } catch {
    return { dir, version: "unknown", command: [], commandExists: false };
  }
}

export async function removeAdapterPackage(root?: string): Promise<boolean> {
  const dir = packageDir(root);
  if (!existsSync(dir)) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}

/** What Paperclip says about the adapter: null when it does not know it. */
export interface Registration {
  type: string;
  loaded: boolean;
  version?: string;
  localPath?: string;
  raw: Record<string, unknown>;
}

export async function register(target: Target, dir: string): Promise<Registration> {
  const payload = { packageName: dir, isLocalPath: true };
  const installed = (await call(target, "POST", "/api/adapters/install", ["adapter", "install", "--payload-json", JSON.stringify(payload)], payload)) as Record<
    string,
    unknown
  >;
  // Paperclip's module cache still holds the previous code on a reinstall: reload picks up the new files.
  if (installed?.requiresRestart === true) await call(target, "POST", `/api/adapters/${ADAPTER_TYPE}/reload`, ["adapter", "reload", ADAPTER_TYPE], {});
  const reg = await registration(target);
  if (!reg) throw runtimeError("Paperclip accepted the adapter but does not list it", "check the server log", "paperclip_register_failed");
  return reg;
}

export async function registration(target: Target): Promise<Registration | null> {
  try {
    const r = (await call(target, "GET", `/api/adapters/${ADAPTER_TYPE}`, ["adapter", "get", ADAPTER_TYPE])) as Record<string, unknown>;
    return {
      type: String(r.type ?? ADAPTER_TYPE),
      loaded: r.loaded !== false && r.status !== "error",
      version: typeof r.version === "string" ? r.version : undefined,
      localPath: typeof r.localPath === "string" ? r.localPath : typeof r.packageName === "string" ? r.packageName : undefined,
      raw: r,
    };
  } catch (e) {
    if ((e as { status?: number }).status === 404 || /not registered|404/i.test((e as Error).message)) return null;
    throw e;
  }
}

export async function unregister(target: Target): Promise<boolean> {
  if (!(await registration(target))) return false;
  await call(target, "DELETE", `/api/adapters/${ADAPTER_TYPE}`, ["adapter", "delete", ADAPTER_TYPE]);
  return true;
}

/** One Paperclip call, over HTTP or through `paperclipai ... -d DIR --json`. */
async function call(target: Target, method: string, path: string, cliArgs: string[], body?: unknown): Promise<unknown> {
  if (target.kind === "api") {
    const url = `${target.url.replace(/\/+$/, "")}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { "content-type": "application/json", ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}) },
        body: body === undefined || method === "GET" ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      throw runtimeError(`cannot reach Paperclip at ${target.url}: ${(e as Error).message}`, "start it (paperclipai run) or pass --api URL / --data-dir DIR", "paperclip_unreachable");
    }
    const text = await res.text();
    const json = text ? safeJson(text) : {};
    if (!res.ok) {
      const msg = (json as { error?: string })?.error ?? text.slice(0, 200);
      throw Object.assign(runtimeError(`Paperclip ${method} ${path}: ${res.status} ${msg}`, undefined, "paperclip_api_error"), { status: res.status });
    }
    return json;
  }
  const proc = Bun.spawn([target.paperclipai, ...cliArgs, "-d", target.dataDir, "--json"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) {
    const line = err.trim().split("\n").pop() ?? "";
    throw Object.assign(runtimeError(`paperclipai ${cliArgs.slice(0, 2).join(" ")} failed: ${line || `exit ${code}`}`, undefined, "paperclip_cli_error"), {
      status: /not registered|not found|404/i.test(line) ? 404 : undefined,
    });
  }
  return out.trim() ? safeJson(out) : {};
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

/** `--api URL` | `--data-dir DIR` (with paperclipai on PATH or --paperclipai) | $PAPERCLIP_API_URL | the default port. */
export function resolveTarget(opts: { api?: string; dataDir?: string; paperclipai?: string }, env: NodeJS.ProcessEnv = process.env): Target {
  if (opts.api && opts.dataDir) throw usageError("--api and --data-dir are alternatives", "pass one of them", "invalid_flags");
  if (opts.dataDir) {
    const bin = opts.paperclipai ?? Bun.which("paperclipai");
    if (!bin) throw usageError("--data-dir needs Paperclip's CLI, and paperclipai is not on PATH", "pass --paperclipai /path/to/paperclipai, or use --api URL", "paperclipai_missing");
    return { kind: "cli", dataDir: opts.dataDir, paperclipai: bin };
  }
  const url = opts.api ?? env.PAPERCLIP_API_URL ?? "http://127.0.0.1:3100";
  if (!/^https?:\/\//.test(url)) throw usageError(`--api must be an http(s) URL, got '${url}'`, "for example --api http://127.0.0.1:3100", "invalid_flags");
  return { kind: "api", url, apiKey: env.PAPERCLIP_API_KEY || undefined };
}

/** How Paperclip should start this paperclip-aos: the compiled binary itself, or Bun with the CLI's source. */
export function selfCommand(compiled: boolean): string[] {
  return compiled ? [process.execPath] : [process.execPath, join(import.meta.dir, "..", "..", "commands", "cli.ts")];
}
