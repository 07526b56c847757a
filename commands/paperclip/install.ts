import { defineCommand } from "citty";
import { err, globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { register, resolveTarget, selfCommand, writeAdapterPackage } from "../../src/paperclip/index.ts";
import { buildInfo } from "../../src/version.ts";
import { targetArgs } from "./_target.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "install",
      description:
        "Write the agentos_local adapter package into the state dir, pointing at this binary's absolute path, and register it with " +
        "Paperclip (POST /api/adapters/install, or paperclipai adapter install with --data-dir). Installing again updates it in place.",
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
      if (!args.quiet && !args.json) err(`writing the agentos_local adapter package (paperclip-aos ${info.version})…`);
      const pkg = await writeAdapterPackage({ command: selfCommand(info.compiled), version: info.version });
      if (!target) {
        if (args.json) return printJson({ package: pkg, registered: null });
        out(`${pkg.dir}\n`);
        err(`register it: paperclipai adapter install --payload-json '${JSON.stringify({ packageName: pkg.dir, isLocalPath: true })}'`);
        return;
      }
      if (!args.quiet && !args.json) err(`registering with Paperclip (${target.kind === "api" ? target.url : `data dir ${target.dataDir}`})…`);
      const reg = await register(target, pkg.dir);
      if (args.json) return printJson({ package: pkg, registered: reg });
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
