import { usageError } from "../errors.ts";

// Its own file, importing nothing of the engine client: every `run` asks it first, and a run through a warm worker
// must not load the engine's code (docs/worker.md).

/** Values of --engine / PAPERCLIP_AOS_ENGINE / the config's `engine` that mean "no engine" (as --worker off). */
const OFF = new Set(["off", "none", "no", "0", "false"]);

export interface EngineChoice {
  url: string;
  /** Where it was named: the flag, PAPERCLIP_AOS_ENGINE, or the user config file. */
  from: string;
}

/**
 * The engine a run should use: `--engine URL`, else $PAPERCLIP_AOS_ENGINE, else the user config's `engine`. `off`
 * (anywhere) runs locally. Only http(s) URLs: anything else is exit 2 before the run starts.
 */
export function chooseEngine(flag: string | undefined, env: NodeJS.ProcessEnv, configured: string | undefined): EngineChoice | undefined {
  const [value, from] =
    flag !== undefined ? [flag, "--engine"] : env.PAPERCLIP_AOS_ENGINE !== undefined && env.PAPERCLIP_AOS_ENGINE !== "" ? [env.PAPERCLIP_AOS_ENGINE, "PAPERCLIP_AOS_ENGINE"] : [configured, "the config's engine"];
  if (value === undefined || OFF.has(value.trim().toLowerCase())) return undefined;
  return { url: engineUrl(value, from), from };
}

function engineUrl(value: string, from: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw usageError(`${from}: '${value}' is not a URL`, "name the engine's endpoint, e.g. --engine http://127.0.0.1:6420", "invalid_engine");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw usageError(`${from}: '${value}' is not an http(s) URL`, "name the engine's endpoint, e.g. --engine http://127.0.0.1:6420", "invalid_engine");
  }
  if (url.username || url.password) {
    // A token in a URL ends up in argv, config files and logs.
    throw usageError(`${from}: the engine URL must not carry credentials`, "give the engine's token as RIVET_TOKEN in the environment instead", "invalid_engine");
  }
  return url.href.replace(/\/$/, "");
}
