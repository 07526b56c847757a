/** Shared by the drivers' config writers. */
export const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

/** A Claude model id Pi, OpenCode and Claude Code know: the nominal model when the gateway answers from a script. */
export const SCRIPTED_CLAUDE_MODEL = "claude-sonnet-4-20250514";
