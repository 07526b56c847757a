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

/** The user's config file: `$XDG_CONFIG_HOME/paperclip-aos/config.json`, else ~/.config/paperclip-aos/config.json. */
export function userConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME ? resolve(env.XDG_CONFIG_HOME) : join(env.HOME ? resolve(env.HOME) : homedir(), ".config");
  return join(base, "paperclip-aos", "config.json");
}
