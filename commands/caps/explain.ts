import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp, out, err } from "../_shared.ts";
import { explainPolicy, permissionHelp } from "../../src/caps/index.ts";
import { vmPermissions } from "../../src/plan/index.ts";
import { DEFAULTED_NOTE, permissionFlagsOf, policyFromArgs, positionals } from "./_input.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "explain",
      description: "A policy in plain words, its compiled agentOS permissions, and where each rule is enforced (or that it cannot be).",
    },
    args: {
      file: { type: "positional", required: false, valueHint: "FILE", description: "Policy file (JSON); '-' reads stdin" },
      ...globalArgs,
    },
    async run({ args, data }) {
      const { policy, defaulted } = await policyFromArgs(positionals(args), permissionFlagsOf(data));
      // The permissions shown are the VM's: the policy's plus what the typed host tools need (src/plan, as exec and run boot).
      const { data: explanation, text } = explainPolicy(policy, { workspaceHostDir: process.cwd(), hostEnv: process.env }, { vmPermissions: (p) => vmPermissions(p, { hostTools: true }) });
      if (args.json) {
        printJson({ ...explanation, defaulted });
        return;
      }
      if (defaulted) err(DEFAULTED_NOTE);
      out(`${text}\n`);
      err("the model gateway's loopback port is chosen per run and is always exempted\n");
    },
  }),
  {
    permissionFlags: true,
    footer: () =>
      "The policy is FILE, --caps, --preset NAME and/or permission flags, merged as exec and run merge them; without a file, --caps or --preset the base is " +
      "preset workspace-write. Shown: what the agent may do, the mandatory denies, the runtime's own needs, the compiled agentOS " +
      "permissions, the exempted loopback ports, which host variables env.read lets in (names only, never values), and for every rule " +
      "where it is enforced (agentOS kernel, host env filter, host-function permission) or that it is not enforceable.",
    blocks: () => [permissionHelp()],
    examples: [
      ["paperclip-aos caps explain policy.json", "a policy file in plain words"],
      ["paperclip-aos caps explain --preset networked --deny-net=internal.corp", "a preset with one more deny"],
      ["paperclip-aos caps explain --allow-write=/workspace/out", "what exec --allow-write=/workspace/out gets: writes only there"],
      ["paperclip-aos caps explain --allow-read=src --allow-env=CI --json", "the compiled agentOS permissions as JSON"],
    ],
  },
);
