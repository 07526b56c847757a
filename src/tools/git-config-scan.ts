/**
 * Whether a repository's own config file (`.git/config`, which the agent can write) can be trusted to hold nothing
 * that openRepo has to act on, without starting git to list it: no filter driver (filters run programs during
 * `git status`), no include (which could bring one in from another file), nothing about work trees (core.worktree,
 * extensions.worktreeConfig and its config.worktree file) and no `core.bare` other than false.
 *
 * It answers true only for a strict, simple subset of git-config(1) syntax, and false ("ask git") for everything
 * else, so it never has to agree with git's parser on a hard case:
 * - the words `filter`, `include` and `worktree` anywhere in the file, in any ASCII case, mean false: section names
 *   have no escapes and cannot span lines, so every `[filter ...]`, `[include]`, `[includeIf ...]` header and every
 *   `worktree` key must spell the word out;
 * - any byte that is not printable ASCII, tab or CRLF means false (git folds case in ASCII only);
 * - every line must be blank, a comment, a `[section]` or `[section "sub"]` header without quotes or backslashes
 *   in the subsection, or `key` / `key = value` with no quote or backslash in the value (so no escapes and no
 *   continuation lines); `[section.sub]` (the old syntax) means false;
 * - `core.bare`, if set at all, must be false, no, off or 0.
 * A test compares it with what git itself lists for generated configs (test/unit/tools-git.test.ts).
 */
export function isPlainLocalConfig(text: string): boolean {
  if (/[^\t\n\r\x20-\x7e]/.test(text) || /\r(?!\n)/.test(text)) return false;
  if (/filter|include|worktree/i.test(text)) return false;
  let section: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (/^\s*(?:[#;].*)?$/.test(line)) continue;
    const header = /^\s*\[([A-Za-z0-9-]+)(?:\s+"[^"\\]*")?\]\s*(?:[#;].*)?$/.exec(line);
    if (header) {
      // A subsection makes it another section: core "x" is not core.
      section = line.includes('"') ? `${header[1]!.toLowerCase()} "` : header[1]!.toLowerCase();
      continue;
    }
    const entry = /^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=([^"\\]*))?$/.exec(line);
    if (!entry || section === undefined) return false;
    if (section === "core" && entry[1]!.toLowerCase() === "bare") {
      const value = entry[2] === undefined ? "true" : entry[2].replace(/[#;].*$/, "").trim().toLowerCase();
      if (!["false", "no", "off", "0"].includes(value)) return false;
    }
  }
  return true;
}
