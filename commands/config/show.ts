import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { globalArgs, printJson, withHelp, out } from "../_shared.ts";
import { CONFIG_KEYS, findProjectConfig, loadConfig, type ConfigKey } from "../../src/config/index.ts";
import { DEFAULT_GRACE_SEC, DEFAULT_MODEL } from "../../src/heartbeat/index.ts";
import { userConfigFile } from "../../src/paths.ts";

/** What run and exec use when nothing sets a value (src/heartbeat/request.ts, src/caps/sandbox.ts). */
const BUILT_IN: Record<ConfigKey, string | number | null> = {
  agent: "pi",
  model: DEFAULT_MODEL,
  preset: "workspace-write",
  timeoutSec: null,
  graceSec: DEFAULT_GRACE_SEC,
  engine: null,
};

export default withHelp(
  defineCommand({
    meta: {
      name: "show",
      description: "The effective defaults here and where each comes from: Paperclip's env, the project file, the user file, or built-in. Invalid config is exit 2 naming the file and field.",
    },
    args: globalArgs,
    run({ args }) {
      const cwd = process.cwd();
      const loaded = loadConfig({ cwd });
      const fromEnv: Partial<Record<ConfigKey, string>> = { model: "PAPERCLIP_AOS_MODEL", engine: "PAPERCLIP_AOS_ENGINE" };
      const values = Object.fromEntries(
        CONFIG_KEYS.map((key) => {
          const envName = fromEnv[key];
          if (envName && process.env[envName]) return [key, { value: process.env[envName], from: `env ${envName}` }];
          const file = loaded.from[key];
          const level = loaded.files.find((f) => f.path === file)?.level;
          return [key, file ? { value: loaded.values[key], from: `${level} ${file}` } : { value: BUILT_IN[key], from: "built-in" }];
        }),
      ) as Record<ConfigKey, { value: unknown; from: string }>;
      const user = userConfigFile();
      const files = { project: findProjectConfig(cwd) ?? null, user, userExists: existsSync(user) };
      if (args.json) return printJson({ values, files });
      const w = Math.max(...CONFIG_KEYS.map((k) => k.length));
      const shown = (v: unknown) => (v === null ? "(none)" : String(v));
      const vw = Math.max(...Object.values(values).map((v) => shown(v.value).length));
      const lines = CONFIG_KEYS.map((k) => `${k.padEnd(w)}  ${shown(values[k].value).padEnd(vw)}  ${values[k].from}`);
      lines.push("", `project file: ${files.project ?? "none (.paperclip-aos.json here or up to the git root)"}`, `user file:    ${user}${files.userExists ? "" : " (not found)"}`);
      out(`${lines.join("\n")}\n`);
    },
  }),
  {
    examples: [
      ["paperclip-aos config show", "value, then where it came from"],
      ["paperclip-aos --cwd ../other config show --json", "{values: {agent: {value, from}, ...}, files}"],
    ],
  },
);
