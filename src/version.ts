import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
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
  let core = "unknown";
  try {
    const entry = Bun.resolveSync("@rivet-dev/agentos-core", import.meta.dir);
    core = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")).version;
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
