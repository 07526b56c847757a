import { defineCommand } from "citty";
import { globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { engineStatus } from "../../src/rivet/index.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "status",
      description:
        "Show whether the Rivet engine parts are installed (where, which version, the rivet-engine binary), that rivetkit loads, " +
        "and whether an engine answers at --engine. Exit 0 when installed and loadable, 3 when not installed, 1 when installed but broken.",
    },
    args: {
      ...globalArgs,
      engine: { type: "string", valueHint: "URL", description: "Also ask the engine at URL (default $PAPERCLIP_AOS_ENGINE, else http://127.0.0.1:6420)" },
    },
    async run({ args }) {
      const s = await engineStatus({ endpoint: args.engine });
      if (args.json) printJson(s);
      else {
        out(
          [
            s.installed ? `parts:   rivetkit ${s.rivetkitVersion}, @rivetkit/engine-cli ${s.engineCliVersion} in ${s.dir} (${s.source === "env" ? "PAPERCLIP_AOS_RIVET_DIR" : "engine install"})` : `parts:   not installed: ${s.reason} (paperclip-aos engine install)`,
            s.installed ? `engine:  ${s.enginePath}` : "",
            s.installed ? `loads:   ${s.loadError ? `NO: ${s.loadError}` : `yes (${s.loadMs} ms)`}` : "",
            `running: ${s.endpoint}: ${s.running ? `rivet-engine ${s.running.version} answers` : "no engine answers"}`,
          ]
            .filter(Boolean)
            .join("\n"),
        );
      }
      return !s.installed ? 3 : s.loadError ? 1 : 0;
    },
  }),
  {
    exitCodes: [["0", "the engine parts are installed and load"], ["1", "installed but broken"], ["3", "not installed (paperclip-aos engine install)"]],
    examples: [
      ["paperclip-aos engine status", "parts, version, paths; whether an engine answers on 127.0.0.1:6420"],
      ["paperclip-aos engine status --json", "{installed, version, dir, source, rivetkitVersion, engineCliVersion, enginePath, loadMs, loadError, endpoint, running}"],
      ["paperclip-aos engine status --engine http://10.0.0.5:6420", "ask another engine"],
    ],
  },
);
