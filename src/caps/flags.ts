/**
 * Deno-style permission flags. The CLI reads them in its one pass over argv (commands/_argv.ts), token by token
 * through readPermissionFlag, so a value is never taken for a flag nor a flag for a value; parsePermissionFlags reads
 * a list of them for library users.
 *
 * Grammar (Deno's): `--allow-read` alone allows everything of that kind; a value needs `=`
 * (`--allow-read=/workspace/src,docs`); values are comma-separated and `,,` is a literal comma; flags repeat and
 * add up. `--deny-X` takes the same values. `--caps FILE` / `--caps=FILE` loads a policy file and `--preset NAME` /
 * `--preset=NAME` a preset; both repeat. A misspelled permission flag (`--alow-net`, `--allow-network`) is an error
 * with a suggestion, never silently ignored. How flags combine with a preset is resolvePolicy's (policy.ts).
 */
import { usageError } from "../errors.ts";
import { closest } from "../suggest.ts";
import { CAPABILITIES, FLAG_WORD, type Capability, type Mode } from "./vocabulary.ts";
import { PRESET_NAMES } from "./presets.ts";
import { looksLikeFlag } from "./flag-token.ts";

export { looksLikeFlag };

export interface PermissionFlag {
  mode: Mode;
  capability: Capability;
  /** null: the flag was given without a value, meaning "all". */
  values: string[] | null;
  /** The token as given, for messages. */
  token: string;
}

export interface PermissionFlags {
  rules: PermissionFlag[];
  /** --caps files, in order. */
  caps: string[];
  /** --preset names, in order (validated by resolvePolicy). */
  presets: string[];
}

const WORD_TO_CAP = new Map<string, Capability>(CAPABILITIES.map((c) => [FLAG_WORD[c], c]));
const PERMISSION_FLAG_NAMES = [
  ...CAPABILITIES.flatMap((c) => [`allow-${FLAG_WORD[c]}`, `deny-${FLAG_WORD[c]}`]),
  "allow-all",
];
const VALUE_FLAGS = ["caps", "preset"];

export function emptyPermissionFlags(): PermissionFlags {
  return { rules: [], caps: [], presets: [] };
}

/** Split a flag value on commas; `,,` is a literal comma (Deno). */
export function splitFlagValue(value: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === ",") {
      if (value[i + 1] === ",") {
        cur += ",";
        i++;
      } else {
        parts.push(cur);
        cur = "";
      }
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

function looksLikePermissionTypo(name: string): boolean {
  const head = name.split("-")[0] ?? "";
  return closest(head, ["allow", "deny"], 1) !== undefined && name.includes("-");
}


/** Every permission flag name (without `--`), for did-you-mean and shell completion. */
export const PERMISSION_FLAGS: readonly string[] = [...PERMISSION_FLAG_NAMES, ...VALUE_FLAGS];

/**
 * Read one `--name[=value]` token as a permission flag into `flags`. `next` is the following argument (undefined at
 * the end or at `--`). Returns how many arguments were used (1, or 2 when `--caps`/`--preset` took `next`), or 0 when
 * `name` is no permission flag and no near miss of one (the caller's own flags then get their turn).
 *
 * Values of the capability flags need `=`: a bare `--allow-net` means all of its kind, so `--allow-net api.github.com`
 * would silently allow every host and leave the host name behind. A bare capability flag followed by a plain word is
 * therefore an error (exit 2) naming both spellings, never a guess.
 */
export function readPermissionFlag(flags: PermissionFlags, name: string, value: string | undefined, next: string | undefined): 0 | 1 | 2 {
  const token = value === undefined ? `--${name}` : `--${name}=${value}`;
  if (VALUE_FLAGS.includes(name)) {
    let v = value;
    let used: 1 | 2 = 1;
    if (v === undefined) {
      if (next === undefined || looksLikeFlag(next)) {
        throw usageError(`--${name} needs a value`, name === "caps" ? "write --caps=policy.json" : `write --preset=${PRESET_NAMES[0]} (presets: ${PRESET_NAMES.join(", ")})`, "missing_value");
      }
      v = next;
      used = 2;
    }
    if (v === "") throw usageError(`--${name} needs a value`, name === "caps" ? "write --caps=policy.json" : `presets: ${PRESET_NAMES.join(", ")}`, "missing_value");
    (name === "caps" ? flags.caps : flags.presets).push(v);
    return used;
  }

  if (name === "allow-all") {
    if (value !== undefined) throw usageError("--allow-all takes no value", "write --allow-all alone, or --allow-X=... for one kind", "unexpected_value");
    bareNotFollowedByWord(token, next, "every kind");
    for (const capability of CAPABILITIES) flags.rules.push({ mode: "allow", capability, values: null, token });
    return 1;
  }

  const m = /^(allow|deny)-(.+)$/.exec(name);
  const capability = m ? WORD_TO_CAP.get(m[2]!) : undefined;
  if (m && capability) {
    const mode = m[1] as Mode;
    if (value === undefined) {
      bareNotFollowedByWord(token, next, `every ${KIND_NOUN[capability]}`);
      flags.rules.push({ mode, capability, values: null, token });
      return 1;
    }
    if (value === "") {
      throw usageError(`${token} has an empty value`, `write --${name} alone for all, or --${name}=VALUE`, "empty_value");
    }
    const values = splitFlagValue(value);
    if (values.some((x) => x === "")) {
      throw usageError(`${token} has an empty entry`, "remove the extra comma (a literal comma is written ',,')", "empty_value");
    }
    flags.rules.push({ mode, capability, values, token });
    return 1;
  }

  if (m || looksLikePermissionTypo(name) || closest(name, VALUE_FLAGS, 1)) {
    const near = closest(name, PERMISSION_FLAGS);
    throw usageError(
      `unknown permission flag '--${name}'`,
      near ? `did you mean '--${near}'?` : `permission flags are ${PERMISSION_FLAG_NAMES.map((n) => `--${n}`).join(", ")}`,
      "unknown_flag",
    );
  }
  return 0;
}

const KIND_NOUN: Record<Capability, string> = {
  "fs.read": "path",
  "fs.write": "path",
  "network.fetch": "host",
  "network.listen": "port",
  "process.spawn": "driver",
  "env.read": "variable",
  "tool.invoke": "tool",
};

function bareNotFollowedByWord(token: string, next: string | undefined, all: string): void {
  if (next === undefined || looksLikeFlag(next)) return;
  throw usageError(
    `${token} ${next}: a permission flag takes its value with '='`,
    `write ${token}=${next}, or ${token} alone (${all}) with other arguments before it`,
    "ambiguous_value",
  );
}

/**
 * Parse a list of permission flags (the library's entry: the CLI reads them in its one pass over argv, commands/_argv.ts).
 * Anything that is not a permission flag is an error; `--` ends the list.
 */
export function parsePermissionFlags(argv: string[]): PermissionFlags {
  const flags = emptyPermissionFlags();
  for (let i = 0; i < argv.length; ) {
    const token = argv[i]!;
    if (token === "--") break;
    const body = token.startsWith("--") ? token.slice(2) : undefined;
    const eq = body?.indexOf("=") ?? -1;
    const used = body === undefined ? 0 : readPermissionFlag(flags, eq === -1 ? body : body.slice(0, eq), eq === -1 ? undefined : body.slice(eq + 1), argv[i + 1] === "--" ? undefined : argv[i + 1]);
    if (used === 0) throw usageError(`'${token}' is not a permission flag`, `permission flags are ${PERMISSION_FLAG_NAMES.map((n) => `--${n}`).join(", ")}`, "unknown_flag");
    i += used;
  }
  return flags;
}

/** The value a bare flag stands for: everything of that kind. */
export function allValue(capability: Capability): string {
  return capability === "fs.read" || capability === "fs.write" ? "/**" : "*";
}

const HELP_ROWS: [string, string, string][] = [
  ["--allow-read[=<PATH>...]", "Read files and list directories", "--allow-read=src,/tmp"],
  ["--allow-write[=<PATH>...]", "Create, change, rename and delete files", "--allow-write=/workspace/out,/tmp"],
  ["--allow-net[=<HOST>...]", "Connect to hosts: host, host:port, *.domain, IP, CIDR", "--allow-net=api.github.com:443,*.npmjs.org"],
  ["--allow-listen[=<PORT>...]", "Listen inside the VM on ports or ranges", "--allow-listen=3000,8000-8100"],
  ["--allow-run[=<DRIVER>...]", "Start processes: wasm (shell, coreutils), node, python", "--allow-run=wasm,node"],
  ["--allow-env[=<NAME>...]", "Pass host environment variables in (names or PREFIX_*)", "--allow-env=CI,NPM_*"],
  ["--allow-tool[=<TOOL>...]", "Call typed host tools", "--allow-tool=git.status,workspace.diff"],
  ["--allow-all", "Allow every kind (mandatory denies still hold)", "--allow-all --deny-net"],
  ["--deny-read[=<PATH>...]", "Deny reading, over a less specific allow", "--deny-read=/workspace/secrets"],
  ["--deny-write[=<PATH>...]", "Deny writing", "--deny-write=/workspace/vendor"],
  ["--deny-net[=<HOST>...]", "Deny connecting", "--deny-net=169.254.0.0/16"],
  ["--deny-listen[=<PORT>...]", "Deny listening", "--deny-listen=22"],
  ["--deny-run[=<DRIVER>...]", "Deny a driver", "--deny-run=python"],
  ["--deny-env[=<NAME>...]", "Keep host variables out", "--deny-env=AWS_*"],
  ["--deny-tool[=<TOOL>...]", "Deny typed host tools", "--deny-tool=artifacts.publish"],
  ["--caps <FILE>", "Load a JSON policy file (see 'caps schema')", "--caps=policy.json"],
  ["--preset <NAME>", `Start from a preset: ${PRESET_NAMES.join(", ")}`, "--preset=workspace-write"],
];

/** The rules of combination, said once for `--help` (exec, run, caps explain/test) and mirrored in the README. */
export const PERMISSION_RULES = [
  "Deny by default. The most specific rule wins; deny wins at equal specificity. Credentials, VCS hooks, shell rc files and .env* stay denied unless an allow names the exact path (mandatory denies).",
  "The base is the default preset workspace-write, or the --preset given. An --allow-X flag replaces the preset's allows of its kind, so --allow-write=/workspace/out means only /workspace/out may be written; kinds no --allow flag names keep the preset's rules; --deny-X flags and the preset's denies always narrow. --preset=none starts from nothing. A --caps file's rules (and a run request's capabilities document) add up with the flags.",
  "A flag without a value allows (or denies) all of its kind. A value needs '=': --allow-read=a,b (',,' is a literal comma); a bare flag followed by a plain word (--allow-net api.github.com) is an error, never a silent allow-all. --caps and --preset take their value with '=' or as the next word.",
  "Paths are guest paths (/workspace/...), relative to /workspace, or host paths under the workspace; a path includes everything below it.",
];

/** The "Permission options" block for `exec --help`, `run --help` and the caps commands: paragraphs and rows, wrapped by the help renderer. */
export function permissionHelp(): { title: string; paragraphs: string[]; rows: [string, string][] } {
  return {
    title: "PERMISSION OPTIONS",
    paragraphs: PERMISSION_RULES,
    rows: HELP_ROWS.map(([f, d, e]) => [f, `${d} (${e})`]),
  };
}
