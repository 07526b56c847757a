import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp, out } from "./_shared.ts";
import { completionScript, completionTree, SHELLS, type Shell } from "./_completion.ts";
import { commands } from "./index.ts";
import { usageError } from "../src/errors.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "completion",
      description: "Print a shell completion script for bash, zsh or fish: commands, subcommands and flags, generated from this binary's own command table.",
    },
    args: {
      shell: { type: "positional", required: true, valueHint: SHELLS.join("|"), description: "The shell to complete in" },
      ...globalArgs,
    },
    async run({ args }) {
      const shell = args.shell as string;
      if (!(SHELLS as readonly string[]).includes(shell)) {
        throw usageError(`no completion for shell '${shell}'`, `shells: ${SHELLS.join(", ")}`, "invalid_value");
      }
      const nodes = await completionTree({ args: globalArgs, subCommands: commands });
      const script = completionScript(shell as Shell, "paperclip-aos", nodes);
      // --json means one JSON document on stdout for every command: here the script as a string, for a program that
      // installs it (the text mode prints the script itself).
      if (args.json) printJson({ shell, script });
      else out(script);
    },
  }),
  {
    examples: [
      ["paperclip-aos completion bash > ~/.local/share/bash-completion/completions/paperclip-aos", "bash: loaded on demand from then on"],
      ["paperclip-aos completion zsh > ~/.zfunc/_paperclip-aos", "zsh: with fpath+=(~/.zfunc) before compinit in ~/.zshrc"],
      ["paperclip-aos completion fish > ~/.config/fish/completions/paperclip-aos.fish", "fish: loaded on demand"],
      ["source <(paperclip-aos completion bash)", "bash: this shell only"],
      ["paperclip-aos completion fish --json", "{shell, script}: the script as a JSON string"],
    ],
  },
);
