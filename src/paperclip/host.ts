import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { PromptHelpers } from "./request.ts";

/**
 * The adapter bundle carries no copy of @paperclipai/adapter-utils: module-level state (the running-process map
 * cancellation goes through) lives in the server's copy, and a second copy breaks it. Its prompt helpers are taken
 * from the Paperclip server this adapter runs in, found by walking up from the server's entry script and cwd.
 */
const RELATIVE = [
  ["node_modules", "@paperclipai", "adapter-utils", "dist", "server-utils.js"],
  ["node_modules", "@paperclipai", "server", "node_modules", "@paperclipai", "adapter-utils", "dist", "server-utils.js"],
];

export function findHostServerUtils(starts: string[] = [process.argv[1] ? dirname(process.argv[1]) : "", process.cwd()]): string | null {
  for (const start of starts.filter(Boolean)) {
    let dir = start;
    for (let i = 0; i < 40; i++) {
      for (const parts of RELATIVE) {
        const file = join(dir, ...parts);
        if (existsSync(file)) return file;
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return null;
}

let cached: Promise<{ helpers: PromptHelpers; source: string }> | undefined;

/** The host's helpers, or (outside a Paperclip server) a minimal stand-in that renders the same template syntax. */
export function hostPromptHelpers(): Promise<{ helpers: PromptHelpers; source: string }> {
  cached ??= (async () => {
    const file = findHostServerUtils();
    if (file) {
      try {
        const m = (await import(pathToFileURL(file).href)) as PromptHelpers;
        if (typeof m.renderPaperclipWakePrompt === "function") return { helpers: m, source: file };
      } catch {
        // fall through to the stand-in
      }
    }
    return { helpers: FALLBACK, source: "built-in" };
  })();
  return cached;
}

const FALLBACK: PromptHelpers = {
  renderTemplate: (template, data) =>
    template.replace(/{{\s*([a-zA-Z0-9_.-]+)\s*}}/g, (_, path: string) => {
      let v: unknown = data;
      for (const k of path.split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
      return v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    }),
  joinPromptSections: (sections, separator = "\n\n") =>
    sections
      .map((s) => (typeof s === "string" ? s.trim() : ""))
      .filter(Boolean)
      .join(separator),
  renderPaperclipWakePrompt: (value) => (value && typeof value === "object" ? `## Paperclip Wake Payload\n\n${JSON.stringify(value, null, 2)}` : ""),
  selectPaperclipTaskMarkdown: () => "",
  isPaperclipRecoveryWakePayload: () => false,
  DEFAULT_PAPERCLIP_AGENT_PROMPT_TEMPLATE: "You are agent {{agent.id}} ({{agent.name}}). Continue your Paperclip work.",
  DEFAULT_PAPERCLIP_CONVERSATION_PROMPT_TEMPLATE: "You are agent {{agent.id}} ({{agent.name}}). Answer the conversation.",
};
