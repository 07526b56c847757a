import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp, err } from "../_shared.ts";
import { checkPolicy, compilePolicy, hostAddresses, type PolicyProblem, type Rule } from "../../src/caps/index.ts";
import { logger } from "../../src/log.ts";
import { ExitCode, usageError } from "../../src/errors.ts";
import { builtinRegistry } from "../../src/tools/index.ts";
import { positionals, readInputs } from "./_input.ts";

type Located = PolicyProblem & { file: string };

function line(kind: "error" | "warning", p: Located): string {
  const value = p.value !== undefined && !p.message.includes(JSON.stringify(p.value).replace(/^"|"$/g, "")) ? ` (got ${JSON.stringify(p.value)})` : "";
  return `  ${kind.padEnd(7)} ${p.path}: ${p.message}${value}${p.hint ? `\n          hint: ${p.hint}` : ""}`;
}

/**
 * What the policy would let into the VM from this environment that looks like a secret (src/caps/env.ts,
 * secretValueWarning): the variables its exact env.read rules name whose values look like one. Names only.
 */
function environmentWarnings(rules: Rule[] | undefined): PolicyProblem[] {
  if (!rules?.some((r) => r.capability === "env.read")) return [];
  const compiled = compilePolicy({ rules, sources: ["file"], warnings: [] }, { hostEnv: process.env, workspaceHostDir: process.cwd(), hostAddresses: hostAddresses() });
  return compiled.warnings.filter((w) => w.source === "environment").map(({ source: _source, path: _path, ...w }) => ({ path: '$.allow["env.read"]', ...w }));
}

export default withHelp(
  defineCommand({
    meta: {
      name: "check",
      description: "Validate policy files: every problem with its JSON path, the bad value, why and a fix. Exit 0 valid, 2 invalid.",
    },
    args: {
      file: { type: "positional", required: true, valueHint: "FILE...", description: "Policy files (JSON); '-' reads stdin" },
      strict: { type: "boolean", description: "Fail (exit 2) on warnings too" },
      ...globalArgs,
    },
    async run({ args }) {
      const files = positionals(args);
      if (files.length === 0) throw usageError("no policy file given", "paperclip-aos caps check FILE... ('-' for stdin)");
      const toolNames = builtinRegistry().names();
      const errors: Located[] = [];
      const warnings: Located[] = [];
      const envWarnings: Located[] = [];
      const summary: { file: string; valid: boolean; errors: number; warnings: number }[] = [];
      for (const input of await readInputs(files)) {
        const r = checkPolicy(input.text, input.name === "stdin" ? "stdin" : `file ${input.name}`, { workspaceHostDir: process.cwd(), toolNames });
        const e = r.errors.map((p) => ({ file: input.name, ...p }));
        const fromEnv = environmentWarnings(r.rules).map((p) => ({ file: input.name, ...p }));
        envWarnings.push(...fromEnv);
        const w = [...r.warnings.map((p) => ({ file: input.name, ...p })), ...fromEnv];
        errors.push(...e);
        warnings.push(...w);
        summary.push({ file: input.name, valid: r.valid, errors: e.length, warnings: w.length });
        if (!args.json) {
          const counts = [e.length && `${e.length} error${e.length > 1 ? "s" : ""}`, w.length && `${w.length} warning${w.length > 1 ? "s" : ""}`].filter(Boolean).join(", ");
          err(`${input.name}: ${r.valid ? "valid" : "invalid"}${counts ? ` (${counts})` : ""}\n`);
          for (const p of e) err(`${line("error", p)}\n`);
          for (const p of w) err(`${line("warning", p)}\n`);
        }
      }
      // A secret entering the VM is said on stderr also when stdout is the JSON document (the text mode printed it above).
      if (args.json) for (const w of envWarnings) logger.warn(`${w.file}: ${w.message} (${w.hint})`);
      const valid = errors.length === 0;
      const pass = valid && !(args.strict && warnings.length > 0);
      if (args.json) printJson({ valid, errors, warnings, files: summary });
      else if (valid && args.strict && warnings.length) err("failing because of --strict\n");
      return pass ? ExitCode.ok : ExitCode.usage;
    },
  }),
  {
    exitCodes: [["0", "every file is valid (warnings allowed unless --strict)"], ["2", "a file is invalid (or has warnings, with --strict), or cannot be read"]],
    footer: () =>
      "Every problem is reported, not only the first. Unknown keys and tools are errors (with a suggestion: did you mean 'fs.write'?,\n" +
      "'git.status'?), and so are unclosed brackets in a path. Warnings name rules that are valid but not enforceable\n" +
      "or probably not meant (a writable /**, a per-command spawn rule, env.read *), and variables of this environment an exact\n" +
      "env.read rule would pass into the VM whose values look like secrets (named, never shown); they fail only with --strict. Host paths are\n" +
      "read relative to the workspace: the current directory, or --cwd DIR.\n",
    examples: [
      ["paperclip-aos caps check policy.json", "exit 0 if valid, 2 with every problem otherwise"],
      ["paperclip-aos caps check --strict policies/*.json", "warnings fail too (CI)"],
      ["cat policy.json | paperclip-aos caps check - --json", "{valid, errors:[{file, path, message, hint, value}], warnings, files}"],
    ],
  },
);
