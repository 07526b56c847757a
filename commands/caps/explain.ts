import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp, out, err } from "../_shared.ts";
import { explainPolicy, hostAddresses, permissionHelp, problemLine, renderExplanation } from "../../src/caps/index.ts";
import { logger } from "../../src/log.ts";
import { vmPermissions } from "../../src/plan/index.ts";
import { permissionFlagsOf, policyFromArgs, positionals } from "./_input.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "explain",
      description: "A policy in plain words: what the agent may do, what cannot be enforced, the mandatory denies; --rules adds the compiled agentOS permissions.",
    },
    args: {
      file: { type: "positional", required: false, valueHint: "FILE", description: "Policy file (JSON); '-' reads stdin" },
      rules: { type: "boolean", alias: "compiled", description: "Also show the runtime's own needs, where each rule is enforced and the compiled agentOS rules" },
      ...globalArgs,
    },
    async run({ args, data }) {
      const { policy, defaulted, note } = await policyFromArgs(positionals(args), permissionFlagsOf(data));
      // The permissions shown are the VM's: the policy's plus what the typed host tools need (src/plan, as exec and run boot).
      const { data: explanation } = explainPolicy(policy, { workspaceHostDir: process.cwd(), hostEnv: process.env, hostAddresses: hostAddresses() }, { vmPermissions: (p) => vmPermissions(p, { hostTools: true }) });
      // A secret-looking value this policy passes into the VM (src/caps/env.ts): said on stderr, whatever stdout carries.
      for (const w of explanation.warnings.filter((w) => w.source === "environment")) logger.warn(problemLine(w));
      if (args.json) {
        printJson({ ...explanation, defaulted });
        return;
      }
      if (defaulted) err(note);
      out(`${renderExplanation(explanation, { rules: Boolean(args.rules) })}
`);
      err("the model gateway's loopback port is chosen per run and is always exempted\n");
    },
  }),
  {
    permissionFlags: true,
    footer: () =>
      "The policy is FILE, --caps, --preset NAME and/or permission flags, merged as exec and run merge them; without a file, --caps or --preset the base is " +
      "preset workspace-write. Shown: what the agent may do (with the exempted loopback ports and which host variables env.read lets in: names only, " +
      "never values), what agentOS cannot enforce, the mandatory denies and what guards them against renames. --rules adds the runtime's own needs, " +
      "where each rule is enforced (agentOS kernel, host env filter, host-function permission) and the compiled agentOS permissions; --json has all of it as data.",
    blocks: () => [permissionHelp()],
    examples: [
      ["paperclip-aos caps explain policy.json", "a policy file in plain words"],
      ["paperclip-aos caps explain --preset networked --deny-net=internal.corp", "a preset with one more deny"],
      ["paperclip-aos caps explain --allow-write=/workspace/out", "what exec --allow-write=/workspace/out gets: writes only there"],
      ["paperclip-aos caps explain --deny-read=secrets --rules", "with the compiled agentOS rules and where each is enforced"],
      ["paperclip-aos caps explain --allow-read=src --allow-env=CI --json", "everything as JSON"],
    ],
  },
);
