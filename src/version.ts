import pkg from "../package.json" with { type: "json" };

export interface BuildInfo {
  version: string;
  agentosCore: string;
  commit: string;
  builtAt: string | null;
  compiled: boolean;
}

/** Injected by scripts/build.ts through `define`; absent when run from source. */
declare const PAPERCLIP_AOS_BUILD: BuildInfo | undefined;

function fromSource(): BuildInfo {
  // Only from source; node:fs is loaded here rather than at the top so a compiled start-up never pays for it.
  const { readFileSync } = import.meta.require("node:fs") as typeof import("node:fs");
  let core = "unknown";
  try {
    const entry = Bun.resolveSync("@rivet-dev/agentos-core", import.meta.dir);
    core = JSON.parse(readFileSync(`${entry.slice(0, entry.lastIndexOf("/"))}/../package.json`, "utf8")).version;
  } catch {}
  const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
  const commit = git.success ? git.stdout.toString().trim() : "unknown";
  return { version: pkg.version, agentosCore: core, commit: `${commit}-dev`, builtAt: null, compiled: false };
}

let info: BuildInfo | undefined;
export function buildInfo(): BuildInfo {
  info ??= typeof PAPERCLIP_AOS_BUILD !== "undefined" ? PAPERCLIP_AOS_BUILD : fromSource();
  return info;
}

export const VERSION: string = pkg.version;
