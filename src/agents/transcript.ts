import { appendFile, readFile } from "node:fs/promises";

/**
 * Our own transcript of a session (one JSON object per line: the prompts plus every non-delta event). OpenCode
 * cannot be restored across processes in agentOS 0.2.21, so its next heartbeat opens a new agentOS session and is
 * handed this transcript as context ("transcript-replay" in the init event).
 */
export async function recordPrompt(path: string, runId: string, text: string): Promise<void> {
  await appendFile(path, `${JSON.stringify({ type: "user", runId, text, ts: new Date().toISOString() })}\n`);
}

const MAX_REPLAY_CHARS = 60_000;

export async function replayPreamble(path: string): Promise<string | null> {
  const text = await readFile(path, "utf8").catch(() => "");
  if (!text.trim()) return null;
  const lines: string[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    let e: Record<string, any>;
    try {
      e = JSON.parse(raw);
    } catch {
      continue;
    }
    if (e.type === "user") lines.push(`USER: ${e.text}`);
    else if (e.type === "assistant") lines.push(`ASSISTANT: ${e.text}`);
    else if (e.type === "tool_call") lines.push(`TOOL CALL ${e.name}: ${JSON.stringify(e.input)}`);
    else if (e.type === "tool_result") lines.push(`TOOL RESULT${e.isError ? " (error)" : ""}: ${String(e.content).slice(0, 2000)}`);
  }
  if (!lines.length) return null;
  let body = lines.join("\n");
  if (body.length > MAX_REPLAY_CHARS) body = `…(earlier turns omitted)\n${body.slice(-MAX_REPLAY_CHARS)}`;
  return [
    "You are continuing an earlier session. paperclip-aos replays its transcript below because the agent's native session",
    "could not be restored. Do not repeat actions merely because they appear here.",
    "<previous-session>",
    body,
    "</previous-session>",
    "",
  ].join("\n");
}
