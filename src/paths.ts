import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Sessions, snapshots, artifacts: `$PAPERCLIP_AOS_HOME`, else `$XDG_DATA_HOME/paperclip-aos`, else ~/.local/share/paperclip-aos. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PAPERCLIP_AOS_HOME) return resolve(env.PAPERCLIP_AOS_HOME);
  if (env.XDG_DATA_HOME) return join(resolve(env.XDG_DATA_HOME), "paperclip-aos");
  return join(homedir(), ".local", "share", "paperclip-aos");
}

/** Extracted runtime assets: `$PAPERCLIP_AOS_CACHE`, else `$XDG_CACHE_HOME/paperclip-aos`, else ~/.cache/paperclip-aos. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PAPERCLIP_AOS_CACHE) return resolve(env.PAPERCLIP_AOS_CACHE);
  if (env.XDG_CACHE_HOME) return join(resolve(env.XDG_CACHE_HOME), "paperclip-aos");
  return join(homedir(), ".cache", "paperclip-aos");
}
