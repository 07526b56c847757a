/**
 * Deno-style permission flags, pulled out of argv before citty sees it: citty keeps only the last of a repeated flag,
 * swallows the next flag as a value and ignores typos (notes/bun-cli.md §3.1).
 *
 * Grammar (Deno's, notes/bun-cli.md §5.2): `--allow-read` alone allows everything of that kind; a value needs `=`
 * (`--allow-read=/workspace/src,docs`); values are comma-separated and `,,` is a literal comma; flags repeat and
 * add up. `--deny-X` takes the same values. `--caps FILE` / `--caps=FILE` loads a policy file and `--preset NAME` /
 * `--preset=NAME` a preset; both repeat. Everything from `--` on is left alone (it is the command's). A misspelled
 * permission flag (`--alow-net`, `--allow-network`) is an error with a suggestion, never silently ignored.
 */
import { usageError } from "../errors.ts";
import { closest } from "../suggest.ts";
import { CAPABILITIES, FLAG_WORD, type Capability, type Mode } from "./vocabulary.ts";
import { PRESET_NAMES } from "./presets.ts";

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
  /** Things that parse but are probably a mistake (`--allow-write /tmp`). */
  warnings: string[];
}

const WORD_TO_CAP = new Map<string, Capability>(CAPABILITIES.map((c) => [FLAG_WORD[c], c]));
const PERMISSION_FLAG_NAMES = [
  ...CAPABILITIES.flatMap((c) => [`allow-${FLAG_WORD[c]}`, `deny-${FLAG_WORD[c]}`]),
  "allow-all",
];
const VALUE_FLAGS = ["caps", "preset"];

export function emptyPermissionFlags(): PermissionFlags {
  return { rules: [], caps: [], presets: [], warnings: [] };
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

/**
 * Take every permission flag out of argv. `rest` keeps everything else in order, `--` and what follows included.
 * Throws usageError (exit 2) on a misspelled permission flag, an empty value or a missing --caps/--preset value.
 */
export function extractPermissionFlags(argv: string[]): { flags: PermissionFlags; rest: string[] } {
  const flags = emptyPermissionFlags();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (!token.startsWith("--")) {
      rest.push(token);
      continue;
    }
    const body = token.slice(2);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const value = eq === -1 ? undefined : body.slice(eq + 1);

    if (VALUE_FLAGS.includes(name)) {
      let v = value;
      if (v === undefined) {
        const next = argv[i + 1];
        if (next === undefined || next === "--" || (next.startsWith("-") && next !== "-")) {
          throw usageError(`--${name} needs a value`, name === "caps" ? "write --caps=policy.json" : `write --preset=${PRESET_NAMES[0]} (presets: ${PRESET_NAMES.join(", ")})`, "missing_value");
        }
        v = next;
        i++;
      }
      if (v === "") throw usageError(`--${name} needs a value`, name === "caps" ? "write --caps=policy.json" : `presets: ${PRESET_NAMES.join(", ")}`, "missing_value");
      (name === "caps" ? flags.caps : flags.presets).push(v);
      continue;
    }

    if (name === "allow-all") {
      if (value !== undefined) throw usageError("--allow-all takes no value", "write --allow-all alone, or --allow-X=... for one kind", "unexpected_value");
      for (const capability of CAPABILITIES) flags.rules.push({ mode: "allow", capability, values: null, token });
      continue;
    }

    const m = /^(allow|deny)-(.+)$/.exec(name);
    const capability = m ? WORD_TO_CAP.get(m[2]!) : undefined;
    if (m && capability) {
      const mode = m[1] as Mode;
      if (value === undefined) {
        const next = argv[i + 1];
        if (next !== undefined && next !== "--" && /^(\/|\.\.?\/|~)/.test(next) && (capability === "fs.read" || capability === "fs.write")) {
          flags.warnings.push(
            `${token} ${next}: a value needs '=' (${token}=${next}); as written, ${token} ${mode === "allow" ? "allows" : "denies"} every path and '${next}' is an argument`,
          );
        }
        flags.rules.push({ mode, capability, values: null, token });
        continue;
      }
      if (value === "") {
        throw usageError(`${token} has an empty value`, `write --${name} alone for all, or --${name}=VALUE`, "empty_value");
      }
      const values = splitFlagValue(value);
      if (values.some((x) => x === "")) {
        throw usageError(`${token} has an empty entry`, "remove the extra comma (a literal comma is written ',,')", "empty_value");
      }
      flags.rules.push({ mode, capability, values, token });
      continue;
    }

    if (m || looksLikePermissionTypo(name) || closest(name, VALUE_FLAGS, 1)) {
      const near = closest(name, [...PERMISSION_FLAG_NAMES, ...VALUE_FLAGS]);
      throw usageError(
        `unknown permission flag '--${name}'`,
        near ? `did you mean '--${near}'?` : `permission flags are ${PERMISSION_FLAG_NAMES.map((n) => `--${n}`).join(", ")}`,
        "unknown_flag",
      );
    }
    rest.push(token);
  }
  return { flags, rest };
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
  ["--allow-tool[=<TOOL>...]", "Call typed host tools", "--allow-tool=git.status,git.diff"],
  ["--allow-all", "Allow every kind (mandatory denies still hold)", "--allow-all --deny-net"],
  ["--deny-read[=<PATH>...]", "Deny reading, over a less specific allow", "--deny-read=/workspace/secrets"],
  ["--deny-write[=<PATH>...]", "Deny writing", "--deny-write=/workspace/vendor"],
  ["--deny-net[=<HOST>...]", "Deny connecting", "--deny-net=169.254.0.0/16"],
  ["--deny-listen[=<PORT>...]", "Deny listening", "--deny-listen=22"],
  ["--deny-run[=<DRIVER>...]", "Deny a driver", "--deny-run=python"],
  ["--deny-env[=<NAME>...]", "Keep host variables out", "--deny-env=AWS_*"],
  ["--deny-tool[=<TOOL>...]", "Deny typed host tools", "--deny-tool=git.push"],
  ["--caps <FILE>", "Load a JSON policy file (see 'caps schema')", "--caps=policy.json"],
  ["--preset <NAME>", `Start from a preset: ${PRESET_NAMES.join(", ")}`, "--preset=workspace-write"],
];

/** The "Permission options" block for `exec --help` and `run --help`. */
export function permissionHelp(): string {
  const w1 = Math.max(...HELP_ROWS.map(([f]) => f.length));
  const w2 = Math.max(...HELP_ROWS.map(([, d]) => d.length));
  const lines = HELP_ROWS.map(([f, d, e]) => `  ${f.padEnd(w1)}  ${d.padEnd(w2)}  ${e}`);
  return [
    "PERMISSION OPTIONS",
    "",
    "  Deny by default. The most specific rule wins; deny wins at equal specificity. Credentials, VCS hooks, shell rc",
    "  files and .env* stay denied unless an allow names the exact path. A value needs '=' (--allow-read=a,b; ',,' is a",
    "  literal comma); a flag without a value allows all of its kind. Flags repeat and add to --caps and --preset;",
    "  without either they add to the default preset workspace-write (--preset=none starts from nothing).",
    "  Paths are guest paths (/workspace/...), relative to /workspace, or host paths under the workspace.",
    "",
    ...lines,
    "",
  ].join("\n");
}
