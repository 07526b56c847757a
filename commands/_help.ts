/**
 * --help, rendered by us rather than citty's renderUsage: wrapped to the terminal's width (never inside a word),
 * with colour only for a terminal that wants it, and blocks (PERMISSION OPTIONS, a request's fields) laid out by the
 * same rules as the options.
 */
import type { ArgDef, ArgsDef, CommandDef } from "citty";
import { colorEnabled, terminalWidth } from "./_shared.ts";

/** A block of help after the options: a title, paragraphs (reflowed) and two-column rows. */
export interface HelpBlock {
  title: string;
  paragraphs?: string[];
  rows?: [term: string, text: string][];
  /** Lines kept as written (a JSON shape): they overflow rather than break. */
  verbatim?: string[];
}

export interface Style {
  width: number;
  color: boolean;
}

export function defaultStyle(): Style {
  return { width: terminalWidth(), color: colorEnabled(1) };
}

const bold = (s: string, st: Style) => (st.color ? `\x1b[1m${s}\x1b[22m` : s);
const cyan = (s: string, st: Style) => (st.color ? `\x1b[36m${s}\x1b[39m` : s);

/** Break text into lines of at most `width` columns at spaces; a word longer than a line stays whole. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [""];
}

function paragraph(text: string, indent: number, st: Style): string[] {
  return wrap(text, Math.max(20, st.width - indent)).map((l) => " ".repeat(indent) + l);
}

/**
 * Two columns: the term, then its text wrapped with a hanging indent. The term column is at most about a third of the
 * width; a longer term gets a line of its own with its text below, at the column.
 */
export function rows(items: [string, string][], st: Style, opts: { indent?: number } = {}): string[] {
  const indent = opts.indent ?? 2;
  const widest = Math.max(0, ...items.map(([t]) => t.length));
  const col = Math.min(widest, Math.max(14, Math.floor(st.width * 0.34)));
  const textWidth = Math.max(20, st.width - indent - col - 2);
  const out: string[] = [];
  for (const [term, text] of items) {
    const lines = wrap(text, textWidth);
    const pad = " ".repeat(indent + col + 2);
    if (term.length <= col) {
      out.push(`${" ".repeat(indent)}${cyan(term, st)}${" ".repeat(col - term.length + 2)}${lines[0]}`);
    } else {
      out.push(`${" ".repeat(indent)}${cyan(term, st)}`, pad + lines[0]);
    }
    for (const l of lines.slice(1)) out.push(pad + l);
  }
  return out;
}

/**
 * A shell command that does not fit is continued with ` \` at a space outside quotes, so it can still be pasted.
 */
export function shellLines(command: string, width: number): string[] {
  if (command.length <= width) return [command];
  const words: string[] = [];
  let cur = "";
  let quote: string | undefined;
  for (const ch of command) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === " ") {
      if (cur) words.push(cur);
      cur = "";
      continue;
    }
    cur += ch;
  }
  if (cur) words.push(cur);
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    const limit = (lines.length ? width - 4 : width) - 2;
    if (line && line.length + 1 + w.length > limit) {
      lines.push(`${line} \\`);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : `    ${l}`));
}

export function renderExamples(examples: [string, string][] | undefined, st: Style): string[] {
  if (!examples?.length) return [];
  const cmdWidth = Math.max(...examples.map(([c]) => c.length));
  const out = [bold("EXAMPLES", st), ""];
  if (2 + cmdWidth + 4 + 24 <= st.width) {
    for (const [c, w] of examples) {
      const lines = wrap(w, st.width - cmdWidth - 6);
      out.push(`  ${c.padEnd(cmdWidth)}  # ${lines[0]}`);
      for (const l of lines.slice(1)) out.push(`${" ".repeat(cmdWidth + 4)}# ${l}`);
    }
  } else {
    // Each example as a comment, then the command: what a person pastes stays whole.
    examples.forEach(([c, w], i) => {
      if (i) out.push("");
      out.push(...wrap(w, st.width - 4).map((l) => `  # ${l}`));
      out.push(...shellLines(c, st.width - 2).map((l) => `  ${l}`));
    });
  }
  return [...out, ""];
}

export function renderBlock(block: HelpBlock, st: Style): string[] {
  const out = [bold(block.title, st), ""];
  for (const p of block.paragraphs ?? []) out.push(...paragraph(p, 2, st), "");
  for (const l of block.verbatim ?? []) out.push(`  ${l}`);
  if (block.verbatim?.length) out.push("");
  if (block.rows?.length) out.push(...rows(block.rows, st), "");
  return out;
}

function flagTerm(name: string, def: ArgDef): string {
  const alias = "alias" in def && def.alias ? `-${Array.isArray(def.alias) ? def.alias[0] : def.alias}, ` : "";
  const hint = def.type === "enum" ? (def.options ?? []).join("|") : "valueHint" in def ? def.valueHint : undefined;
  const value = def.type === "string" || def.type === "enum" ? ` <${hint ?? "VALUE"}>` : "";
  return `${alias}--${name}${value}`;
}

export interface CommandHelp {
  /** The flags every command takes, listed after the command's own. */
  globals: readonly string[];
  /** The whole command line ("paperclip-aos caps test"). */
  path: string;
  description: string;
  args: ArgsDef;
  /** Subcommands and their one-line descriptions, for a group. */
  commands?: [string, string][];
  /** What follows `--` (exec: COMMAND). */
  afterDash?: string;
  examples?: [string, string][];
  blocks?: HelpBlock[];
}

export function renderHelp(h: CommandHelp, st: Style = defaultStyle()): string {
  const entries = Object.entries(h.args);
  const positionals = entries.filter(([, d]) => d.type === "positional");
  const flags = entries.filter(([n, d]) => d.type !== "positional" && !h.globals.includes(n));
  const globals = entries.filter(([n, d]) => d.type !== "positional" && h.globals.includes(n));
  const usage = [
    h.path,
    h.commands ? "<command>" : "",
    "[OPTIONS]",
    ...positionals.map(([n, d]) => (d.required ? `<${d.valueHint ?? n.toUpperCase()}>` : `[${d.valueHint ?? n.toUpperCase()}]`)),
    h.afterDash ? `-- ${h.afterDash}` : "",
  ].filter(Boolean);
  const out: string[] = [...paragraph(h.description, 0, st), ""];
  out.push(`${bold("USAGE", st)} ${shellLines(usage.join(" "), st.width - 6).join("\n      ")}`, "");
  if (h.commands?.length) out.push(bold("COMMANDS", st), "", ...rows(h.commands, st), "");
  if (positionals.length) {
    out.push(bold("ARGUMENTS", st), "", ...rows(positionals.map(([n, d]) => [d.valueHint ?? n.toUpperCase(), d.description ?? ""]), st), "");
  }
  if (flags.length) {
    out.push(bold("OPTIONS", st), "", ...rows(flags.map(([n, d]) => [flagTerm(n, d), d.description ?? ""]), st), "");
  }
  if (globals.length) {
    out.push(bold(flags.length ? "GLOBAL OPTIONS" : "OPTIONS", st), "", ...rows(globals.map(([n, d]) => [flagTerm(n, d), d.description ?? ""]), st), "");
  }
  out.push(...renderExamples(h.examples, st));
  for (const b of h.blocks ?? []) out.push(...renderBlock(b, st));
  return `${out.join("\n").trimEnd()}\n`;
}
