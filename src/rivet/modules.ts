/**
 * Finding and loading the Rivet engine parts at run time. rivetkit (actors, client, its napi module) and
 * @rivetkit/engine-cli (the `rivet-engine` binary) are ~1.5 GB with their dependencies, so they are no dependency of
 * paperclip-aos: `paperclip-aos engine install` puts a pinned set into <cache>/rivet/<version>/ (install.ts), or
 * PAPERCLIP_AOS_RIVET_DIR names a directory whose node_modules/ holds them. Nothing here is imported by name: the
 * modules are resolved from that directory and imported by absolute path, which also works in the compiled binary
 * because scripts/build.ts turns on its runtime package.json resolution (docs/rivet.md, "Packaging").
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { AosError, errorMessage } from "../errors.ts";
import { cacheDir } from "../paths.ts";
import type { RivetkitClientModule, RivetkitDbModule, RivetkitModule } from "./rivetkit-types.ts";
import template from "./install-template/package.json" with { type: "json" };

/** The pinned rivetkit and @rivetkit/engine-cli version (install-template/package.json pins the same, exactly). */
export const RIVET_VERSION: string = template.dependencies.rivetkit;

/** Exit code of a command that needs the engine parts when they are not installed (README "Exit codes"). */
export const ENGINE_MISSING_EXIT = 3;
export const ENGINE_INSTALL_HINT = "run 'paperclip-aos engine install' (or set PAPERCLIP_AOS_RIVET_DIR to a directory whose node_modules/ has rivetkit)";

/** The file whose presence makes an install under <cache>/rivet/<version>/ count (written last, see install.ts). */
export const INSTALL_MARKER = ".paperclip-aos-install.json";

export interface RivetLocation {
  /** The directory holding node_modules/rivetkit and node_modules/@rivetkit/engine-cli. */
  dir: string;
  /** Where it came from: PAPERCLIP_AOS_RIVET_DIR, or an `engine install` in the cache dir. */
  source: "env" | "cache";
  rivetkitVersion: string;
  engineCliVersion: string;
  /** The `rivet-engine` binary (RIVET_ENGINE_BINARY when set, as @rivetkit/engine-cli resolves it). */
  enginePath: string;
}

export type RivetLookup = ({ found: true } & RivetLocation) | { found: false; dir: string; source: "env" | "cache"; reason: string };

/** <cache>/rivet: one directory per installed version. */
export function rivetRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), "rivet");
}

/** Where `engine install` puts the pinned version. */
export function rivetInstallDir(env: NodeJS.ProcessEnv = process.env, version = RIVET_VERSION): string {
  return join(rivetRoot(env), version);
}

function packageVersion(dir: string, name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/**
 * Where the engine parts are, without importing rivetkit (cheap: doctor and `engine status` use it). Looks at
 * PAPERCLIP_AOS_RIVET_DIR when set (and only there), else at the pinned version's install in the cache dir.
 */
export function locateRivet(env: NodeJS.ProcessEnv = process.env): RivetLookup {
  const fromEnv = env.PAPERCLIP_AOS_RIVET_DIR;
  const source = fromEnv ? "env" : "cache";
  const dir = fromEnv ? resolve(fromEnv) : rivetInstallDir(env);
  const missing = (reason: string): RivetLookup => ({ found: false, dir, source, reason });
  if (!existsSync(dir)) return missing(fromEnv ? `PAPERCLIP_AOS_RIVET_DIR=${dir} does not exist` : `${dir} does not exist`);
  if (source === "cache" && !existsSync(join(dir, INSTALL_MARKER))) return missing(`${dir} is not a finished install`);
  const rivetkitVersion = packageVersion(dir, "rivetkit");
  if (!rivetkitVersion) return missing(`${dir}/node_modules has no rivetkit`);
  const engineCliVersion = packageVersion(dir, "@rivetkit/engine-cli");
  if (!engineCliVersion) return missing(`${dir}/node_modules has no @rivetkit/engine-cli`);
  let enginePath: string;
  try {
    enginePath = enginePathIn(dir, env);
  } catch (e) {
    return missing(`no rivet-engine binary: ${errorMessage(e).split("\n")[0]}`);
  }
  if (!existsSync(enginePath)) return missing(`the rivet-engine binary ${enginePath} is missing`);
  return { found: true, dir, source, rivetkitVersion, engineCliVersion, enginePath };
}

/**
 * The `rivet-engine` binary as @rivetkit/engine-cli's getEnginePath() finds it (RIVET_ENGINE_BINARY, else its platform
 * package: one static musl build serves every Linux x64), but reading RIVET_ENGINE_BINARY from `env`, not process.env.
 */
function enginePathIn(dir: string, env: NodeJS.ProcessEnv): string {
  if (env.RIVET_ENGINE_BINARY) return resolve(env.RIVET_ENGINE_BINARY);
  const req = createRequire(join(dir, "package.json"));
  const cli = req("@rivetkit/engine-cli") as { getPlatformPackageName(): string | null };
  const platformPkg = cli.getPlatformPackageName();
  if (!platformPkg) throw new Error(`rivet-engine is not published for ${process.platform}/${process.arch}`);
  return join(dirname(req.resolve(`${platformPkg}/package.json`)), process.platform === "win32" ? "rivet-engine.exe" : "rivet-engine");
}

/** The one error for "the engine parts are not there": exit 3 with the install hint. */
export function engineMissingError(lookup: Extract<RivetLookup, { found: false }>): AosError {
  return new AosError(`the Rivet engine parts are not installed: ${lookup.reason}`, {
    code: "engine_not_installed",
    exitCode: ENGINE_MISSING_EXIT,
    hint: lookup.source === "env" ? "point PAPERCLIP_AOS_RIVET_DIR at a directory with node_modules/rivetkit, or unset it and run 'paperclip-aos engine install'" : ENGINE_INSTALL_HINT,
  });
}

/** The engine parts, or the exit-3 error saying how to install them. */
export function requireRivet(env: NodeJS.ProcessEnv = process.env): RivetLocation {
  const r = locateRivet(env);
  if (!r.found) throw engineMissingError(r);
  const { found: _, ...location } = r;
  return location;
}

export interface Rivet {
  location: RivetLocation;
  /** `import("rivetkit")`: actor, setup, UserError. */
  rivetkit: RivetkitModule;
  /** `import("rivetkit/client")`: createClient. */
  client: RivetkitClientModule;
  /** `import("rivetkit/db")`: db(), an actor's raw SQLite (the session actor's tables, src/rivet/actor-store.ts). */
  db: RivetkitDbModule;
}

const loaded = new Map<string, Promise<Rivet>>();

/** Import rivetkit and rivetkit/client from the located directory (once per directory and process). */
export async function loadRivet(env: NodeJS.ProcessEnv = process.env): Promise<Rivet> {
  const location = requireRivet(env);
  let p = loaded.get(location.dir);
  if (!p) {
    p = importFrom(location);
    loaded.set(location.dir, p);
    p.catch(() => loaded.delete(location.dir));
  }
  return p;
}

async function importFrom(location: RivetLocation): Promise<Rivet> {
  const load = async <T>(spec: string): Promise<T> => {
    try {
      return (await import(pathToFileURL(Bun.resolveSync(spec, location.dir)).href)) as T;
    } catch (e) {
      throw new AosError(`could not load ${spec} from ${location.dir}: ${errorMessage(e).split("\n")[0]}`, {
        code: "engine_not_installed",
        exitCode: ENGINE_MISSING_EXIT,
        hint: location.source === "cache" ? "reinstall it: 'paperclip-aos engine install --force'" : "check PAPERCLIP_AOS_RIVET_DIR's node_modules",
        cause: e,
      });
    }
  };
  // rivetkit encodes actor messages with cbor-x, which picks up its native helper cbor-extract when it can load it.
  // Under Bun 1.4.5 that helper corrupts every string of ~256 bytes or more: measured, an action argument of 300
  // characters aborted or segfaulted the runner process, and a 300-character answer failed in the client ("string.slice
  // is not a function"). cbor-x reads this switch once, when it is imported; the pure-JS path has no such limit
  // (checked up to 20,000 characters, and non-ASCII text both ways).
  const previous = process.env.CBOR_NATIVE_ACCELERATION_DISABLED;
  process.env.CBOR_NATIVE_ACCELERATION_DISABLED = "true";
  try {
    const [rivetkit, client, db] = await Promise.all([load<RivetkitModule>("rivetkit"), load<RivetkitClientModule>("rivetkit/client"), load<RivetkitDbModule>("rivetkit/db")]);
    return { location, rivetkit, client, db };
  } finally {
    if (previous === undefined) delete process.env.CBOR_NATIVE_ACCELERATION_DISABLED;
    else process.env.CBOR_NATIVE_ACCELERATION_DISABLED = previous;
  }
}
