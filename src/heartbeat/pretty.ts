import type { RunEvent } from "../protocol/index.ts";

/** The human view of a run (stderr when a person watches): one short line per event, deltas streamed inline. */
export function renderEvent(e: RunEvent, write: (s: string) => void, state: { midLine: boolean } = { midLine: false }): void {
  const line = (s: string) => {
    if (state.midLine) write("\n");
    state.midLine = false;
    write(`${s}\n`);
  };
  switch (e.type) {
    case "init":
      return line(`▶ ${e.agent} in agentOS · model ${e.model} · session ${e.sessionId.slice(0, 8)}${e.resumed ? ` (resumed: ${e.resumeMode})` : ""} · ${e.cwd}`);
    case "assistant":
      if (e.delta) {
        write(e.text);
        state.midLine = true;
        return;
      }
      if (state.midLine) {
        write("\n");
        state.midLine = false;
        return;
      }
      return line(`  ${e.text}`);
    case "thinking":
      return e.delta ? undefined : line(`  (thinking) ${e.text.slice(0, 200)}`);
    case "tool_call":
      return line(`  $ ${e.name} ${short(e.input)}`);
    case "tool_result":
      return line(`    ${e.isError ? "✖" : "→"} ${e.content.trim().split("\n").slice(0, 6).join("\n      ").slice(0, 600) || "(no output)"}`);
    case "permission":
      return line(`  ⛔ ${e.capability} denied${e.target ? `: ${e.target}` : ""}`);
    case "system":
      return line(`  ℹ ${e.text}`);
    case "service":
      return line(`  ⇄ service ${e.serviceName}${e.url ? ` at ${e.url}` : ""}`);
    case "workspace_change":
      return line(`  ✎ ${e.files.length}${e.complete ? "" : "+"} file(s) changed: ${e.files.slice(0, 5).map((f) => f.path).join(", ")}`);
    case "usage":
      return;
    case "result":
      return line(
        `${e.exitCode === 0 ? "✔" : "✖"} ${e.subtype} in ${(e.durationMs / 1000).toFixed(1)} s · ${e.usage.inputTokens} in / ${e.usage.outputTokens} out tokens · $${e.costUsd.toFixed(4)}${e.errorMessage ? `\n  ${e.errorMessage}` : ""}`,
      );
  }
}

function short(input: unknown): string {
  const s = typeof input === "object" && input && "command" in input ? String((input as { command: unknown }).command) : JSON.stringify(input);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
