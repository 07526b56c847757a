import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp, out, err } from "../_shared.ts";
import { evaluator, hostAddresses, permissionHelp, type Decision, type RequestKind } from "../../src/caps/index.ts";
import { ExitCode, usageError } from "../../src/errors.ts";
import { builtinRegistry } from "../../src/tools/index.ts";
import { permissionFlagsOf, policyFromArgs, positionals } from "./_input.ts";
import { commandData, type CommandData } from "../_argv.ts";

const QUERIES: [RequestKind, string, string][] = [
  ["read", "PATH", "Could the agent read PATH?"],
  ["write", "PATH", "Could it create, change or delete PATH?"],
  ["fetch", "HOST:PORT", "Could it connect to HOST:PORT (a URL works too)?"],
  ["listen", "PORT", "Could it listen on PORT inside the VM?"],
  ["env", "NAME", "Would the host's NAME be passed into the VM?"],
  ["spawn", "DRIVER", "Could it start DRIVER (wasm, node, python) or a command (decided by its driver)?"],
  ["tool", "NAME", "Could it call tool NAME (e.g. git.status)?"],
];

export default withHelp(
  defineCommand({
    meta: {
      name: "test",
      description: "Allowed or denied, and which rule decided: exit 0 if every request is allowed, 1 if any is denied, 2 on bad input.",
    },
    args: {
      file: { type: "positional", required: false, valueHint: "FILE", description: "Policy file (JSON); '-' reads stdin" },
      ...Object.fromEntries(QUERIES.map(([k, hint, description]) => [k, { type: "string" as const, valueHint: hint, description, repeatable: true }])),
      ...globalArgs,
    } as const,
    async run({ args, data }) {
      const asks = queriesOf(commandData(data).options ?? []);
      if (asks.length === 0) throw usageError("nothing to test", "add --read PATH, --write PATH, --fetch HOST:PORT, --listen PORT, --env NAME, --spawn DRIVER or --tool NAME");
      const { policy, defaulted, note } = await policyFromArgs(positionals(args), permissionFlagsOf(data));
      // A tool that does not exist is a typo, not a request to decide: say so instead of answering for it.
      const tools = asks.some((a) => a.kind === "tool") ? builtinRegistry() : undefined;
      for (const a of asks) if (a.kind === "tool") tools!.require(a.target);
      const ev = evaluator(policy, { workspaceHostDir: process.cwd(), hostAddresses: hostAddresses() });
      const decisions: Decision[] = asks.map((a) => ev(a));
      const allowed = decisions.every((d) => d.decision === "allow");
      if (args.json) printJson({ allowed, defaulted, decisions });
      else {
        if (defaulted) err(note);
        for (const d of decisions) {
          out(`${d.decision.padEnd(5)} ${d.kind} ${d.target}\n`);
          err(`      ${d.reason}${d.enforcedBy === "agentos-kernel" ? "" : ` [enforced by ${d.enforcedBy}]`}\n`);
          for (const n of d.notes) err(`      note: ${n}\n`);
        }
      }
      return allowed ? ExitCode.ok : ExitCode.failure;
    },
  }),
  {
    exitCodes: [["0", "every request is allowed"], ["1", "a request is denied"], ["2", "invalid input: a bad policy, flag or query"]],
    permissionFlags: true,
    footer: () =>
      "The same evaluation the compiled agentOS policy realises (mandatory denies, most specific rule, deny on ties, the host " +
      "loopback's exempted ports, spawn decided by driver). Any number of queries, of one kind or several (--read a --read b), " +
      "each answered on its own line in the order given; a --tool that names no tool is exit 2. The policy is FILE, " +
      "--caps, --preset NAME and/or permission flags; without a file, --caps or --preset the base is the config files' preset, else workspace-write. Decisions go to stdout, " +
      "the reasons to stderr (all of it with --json).",
    blocks: () => [permissionHelp()],
    examples: [
      ["paperclip-aos caps test policy.json --read .env", "deny read /workspace/.env (mandatory deny), exit 1"],
      ["paperclip-aos caps test --preset networked --fetch api.github.com:443 --json", "{allowed, decisions:[{decision, rule, reason, ...}]}"],
      ["paperclip-aos caps test --allow-write=src --write src/a.ts --env CI", "several kinds at once"],
      ["paperclip-aos caps test --read src/a.ts --read .env --json", "several of one kind: {allowed, decisions:[one per query]}"],
    ],
  },
);

/** The query flags in the order given, each as often as given (from the one parse of the command line). */
function queriesOf(options: CommandData["options"]): { kind: RequestKind; target: string }[] {
  const kinds = new Set<string>(QUERIES.map(([k]) => k));
  return options.filter((o) => kinds.has(o.name) && typeof o.value === "string").map((o) => ({ kind: o.name as RequestKind, target: o.value as string }));
}
