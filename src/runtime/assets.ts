/**
 * Where the agentOS sidecar and the software packages live. Run from source they are in node_modules; the compiled
 * binary registers an embedded provider (src/runtime/embedded.ts, imported only by the compiled entry) that extracts
 * them into the cache dir. Everything else asks this module and never cares which.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { cacheDir } from "../paths.ts";
import { usageError } from "../errors.ts";
import { isSidecarWrapper } from "./sidecar-wrapper.ts";
import { DRIVERS, type AgentId, type LocalPackage } from "../agents/index.ts";

export type SoftwareName = "common" | AgentId;

export interface RuntimeAssets {
  /** Absolute path of the real agentos-sidecar binary. */
  sidecarBin: string;
  /** `.aospkg` paths per software bundle ("common" holds the 8 coreutils-style packages). */
  software: Record<SoftwareName, string[]>;
  /** "node_modules" when run from source, "embedded" when compiled. */
  origin: "node_modules" | "embedded" | "AGENTOS_SIDECAR_BIN";
  /** Milliseconds spent preparing (extraction on a first run). */
  prepareMs: number;
}

export interface AssetProvider {
  origin: RuntimeAssets["origin"];
  resolve(opts: { onProgress?: (msg: string) => void }): Promise<RuntimeAssets>;
  /** Full integrity check (hash every file); doctor uses it. */
  verify?(): Promise<{ ok: boolean; problems: string[] }>;
  /** The names this provider extracts into `<cache>/rt/` (the compiled binary's own files; cache.ts). */
  cacheFiles?: string[];
}

let provider: AssetProvider | undefined;
let cached: Promise<RuntimeAssets> | undefined;

export function setAssetProvider(p: AssetProvider): void {
  provider = p;
  cached = undefined;
}

export function assetProvider(): AssetProvider {
  provider ??= nodeModulesProvider;
  return provider;
}

/**
 * A user's own sidecar binary. Read once, when this module loads: bootVm later points AGENTOS_SIDECAR_BIN at our
 * stderr wrapper, and reading it after that would make the wrapper wrap itself.
 */
const SIDECAR_OVERRIDE = ownOverride(process.env.AGENTOS_SIDECAR_BIN);

/** The user's own binary, or nothing: a paperclip-aos wrapper inherited from a parent process is not an override. */
function ownOverride(path: string | undefined): string | undefined {
  return path && !isSidecarWrapper(path) ? path : undefined;
}

export function resolveAssets(opts: { onProgress?: (msg: string) => void } = {}): Promise<RuntimeAssets> {
  cached ??= (async () => {
    if (SIDECAR_OVERRIDE && !existsSync(SIDECAR_OVERRIDE)) {
      throw usageError(`AGENTOS_SIDECAR_BIN is set to ${SIDECAR_OVERRIDE}, which does not exist`, "unset it to use the bundled sidecar", "sidecar_override_missing");
    }
    const assets = await assetProvider().resolve(opts);
    // Only the embedded sidecar carries our fixes of agentOS (src/runtime/sidecar-patch.ts).
    const patched = !SIDECAR_OVERRIDE && assets.origin === "embedded";
    for (const d of DRIVERS) {
      for (const p of (d as { localPackages?: readonly LocalPackage[] }).localPackages ?? []) {
        const pkg = patched || !p.unpatchedSidecarFiles ? p : { ...p, files: { ...p.files, ...p.unpatchedSidecarFiles } };
        assets.software[d.id].push(await localPackageDir(pkg));
      }
    }
    return SIDECAR_OVERRIDE ? { ...assets, sidecarBin: SIDECAR_OVERRIDE, origin: "AGENTOS_SIDECAR_BIN" as const } : assets;
  })().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

/**
 * A package of our own as the directory agentOS reads (`agentos-package.json` plus `package.json`'s `bin`), written
 * once under a content-hashed name in the cache dir: a changed package gets a new directory, an existing one is kept.
 * It sits beside the unavailable-commands package in <cache>/software/, not in rt/: rt/ holds what a binary version
 * extracts, and `cache clean` removes what no version it knows of records there.
 */
async function localPackageDir(p: LocalPackage): Promise<string> {
  const manifest = JSON.stringify({ name: p.name, version: p.version, type: "module", private: true, bin: p.bin }, null, 2);
  const hash = new Bun.CryptoHasher("sha256").update(JSON.stringify([manifest, p.files])).digest("hex").slice(0, 16);
  const dir = join(cacheDir(), "software", `${p.name}-${hash}`);
  if (existsSync(join(dir, "package.json"))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const [rel, content] of Object.entries(p.files)) {
    await mkdir(dirname(join(tmp, rel)), { recursive: true });
    await writeFile(join(tmp, rel), content);
  }
  for (const target of Object.values(p.bin)) await chmod(join(tmp, target), 0o755);
  await writeFile(join(tmp, "package.json"), manifest);
  await rename(tmp, dir).catch(async (e) => {
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, "package.json"))) throw e;
  });
  return dir;
}

const COMMON = ["coreutils", "sed", "grep", "gawk", "findutils", "diffutils", "tar", "gzip"] as const;

/** The package list of each bundle, as `@agentos-software/<name>` (an agent's from its driver); the build script embeds the same list. */
export const SOFTWARE_PACKAGES: Record<SoftwareName, readonly string[]> = {
  common: COMMON,
  ...(Object.fromEntries(DRIVERS.map((d) => [d.id, d.packages as readonly string[]])) as Record<AgentId, readonly string[]>),
};

const nodeModulesProvider: AssetProvider = {
  origin: "node_modules",
  async resolve() {
    const started = performance.now();
    const software = {} as Record<SoftwareName, string[]>;
    for (const [bundle, names] of Object.entries(SOFTWARE_PACKAGES) as [SoftwareName, readonly string[]][]) {
      // Each package's index.js is `new URL("./package.aospkg", import.meta.url)`: resolve the file without importing it.
      software[bundle] = names.map((n) => join(dirname(Bun.resolveSync(`@agentos-software/${n}`, import.meta.dir)), "package.aospkg"));
    }
    // The sidecar package's resolver finds the platform binary; it also honours AGENTOS_SIDECAR_BIN, which by now may
    // be our wrapper (resolveAssets applies the user's override itself), so it is asked without that variable.
    const sidecarMod = (await import("@rivet-dev/agentos-sidecar")) as { getSidecarPath?: () => string; default?: { getSidecarPath?: () => string } };
    const getPath = sidecarMod.getSidecarPath ?? sidecarMod.default?.getSidecarPath;
    if (!getPath) throw new Error("@rivet-dev/agentos-sidecar has no getSidecarPath()");
    const set = process.env.AGENTOS_SIDECAR_BIN;
    delete process.env.AGENTOS_SIDECAR_BIN;
    try {
      return { sidecarBin: getPath(), software, origin: "node_modules", prepareMs: performance.now() - started };
    } finally {
      if (set !== undefined) process.env.AGENTOS_SIDECAR_BIN = set;
    }
  },
};
