import { defineCommand } from "citty";
import { globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { readAdapterPackage, registration, resolveTarget, selfCommand, type Registration } from "../../src/paperclip/index.ts";
import { buildInfo } from "../../src/version.ts";
import { errorMessage } from "../../src/errors.ts";
import { targetArgs } from "./_target.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "status",
      description:
        "Show the installed adapter package (version, the binary it runs, whether that is this binary) and what Paperclip reports " +
        "about agentos_local. Exit 0 when installed and registered, 1 otherwise.",
    },
    args: { ...globalArgs, ...targetArgs },
    async run({ args }) {
      const info = buildInfo();
      const pkg = await readAdapterPackage();
      const target = resolveTarget({ api: args.api, dataDir: args["data-dir"], paperclipai: args.paperclipai });
      let registered: Registration | null = null;
      let paperclipError: string | null = null;
      try {
        registered = await registration(target);
      } catch (e) {
        paperclipError = errorMessage(e);
      }
      const self = selfCommand(info.compiled);
      const current = pkg !== null && pkg.command.join(" ") === self.join(" ") && pkg.version === info.version;
      const report = { installed: pkg !== null, package: pkg, current, registered, paperclipError };
      const ok = pkg !== null && pkg.commandExists && registered !== null;
      if (args.json) printJson(report);
      else {
        out(
          [
            pkg ? `package:    ${pkg.dir} (${pkg.version})` : "package:    not installed (paperclip-aos paperclip install)",
            pkg ? `runs:       ${pkg.command.join(" ")}${pkg.commandExists ? "" : "  (MISSING: reinstall)"}${current ? "" : "  (not this binary)"}` : "",
            registered ? `paperclip:  agentos_local registered${registered.version ? ` (${registered.version})` : ""}` : `paperclip:  ${paperclipError ?? "agentos_local not registered"}`,
          ]
            .filter(Boolean)
            .join("\n"),
        );
      }
      return ok ? 0 : 1;
    },
  }),
  {
    exitCodes: [["0", "installed and registered with Paperclip"], ["1", "not installed, or Paperclip does not list it"], ["2", "invalid input"]],
    examples: [
      ["paperclip-aos paperclip status", "package, binary, registration"],
      ["paperclip-aos paperclip status --json", "{installed, package, current, registered, paperclipError}"],
    ],
  },
);
