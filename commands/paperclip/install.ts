import { defineCommand } from "citty";
import { err, globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { installAdapter, resolveTarget, selfCommand } from "../../src/paperclip/index.ts";
import { buildInfo } from "../../src/version.ts";
import { targetArgs } from "./_target.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "install",
      description:
        "Write the agentos_local adapter package into the state dir, pointing at this binary's absolute path, and register it with " +
        "Paperclip (POST /api/adapters/install, or paperclipai adapter install with --data-dir). Installing again updates it in place. " +
        "Paperclip is asked first: when it cannot be reached (or refuses the key) nothing is written, and a registration that fails " +
        "puts the previous package back.",
    },
    args: {
      ...globalArgs,
      ...targetArgs,
      // citty reads --no-register as register=false.
      register: { type: "boolean", default: true, description: "Register with Paperclip (--no-register: only write the package and print how to register it)" },
    },
    async run({ args }) {
      const info = buildInfo();
      const target = !args.register ? undefined : resolveTarget({ api: args.api, dataDir: args["data-dir"], paperclipai: args.paperclipai });
      const where = target?.kind === "api" ? target.url : `data dir ${target?.dataDir}`;
      const say = (m: string) => !args.quiet && !args.json && err(m);
      const { pkg, registered } = await installAdapter({
        command: selfCommand(info.compiled),
        version: info.version,
        target,
        onStep: (step) =>
          say(
            step === "check"
              ? `checking Paperclip (${where})…`
              : step === "write"
                ? `writing the agentos_local adapter package (paperclip-aos ${info.version})…`
                : `registering with Paperclip (${where})…`,
          ),
      });
      if (args.json) return printJson({ package: pkg, registered });
      if (!registered) {
        out(`${pkg.dir}\n`);
        err(`register it: paperclipai adapter install --payload-json '${JSON.stringify({ packageName: pkg.dir, isLocalPath: true })}'`);
        return;
      }
      out(`installed agentos_local ${pkg.version} from ${pkg.dir}\n  runs: ${pkg.command.join(" ")}\n`);
      if (!args.quiet) err("create an agent with adapter type agentos_local (config: agent, model, preset); see README 'Use with Paperclip'");
    },
  }),
  {
    examples: [
      ["paperclip-aos paperclip install", "register with Paperclip on $PAPERCLIP_API_URL or http://127.0.0.1:3100"],
      ["paperclip-aos paperclip install --api http://10.0.0.5:3100", "another instance (key in $PAPERCLIP_API_KEY)"],
      ["paperclip-aos paperclip install --data-dir ~/.paperclip", "through paperclipai and its data dir"],
      ["paperclip-aos paperclip install --no-register --json", "only write the package"],
    ],
  },
);
