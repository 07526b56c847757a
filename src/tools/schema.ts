import { toJsonSchema } from "@valibot/to-json-schema";
import { guestCommand } from "./names.ts";
import type { AnySchema, AnyTool } from "./types.ts";

export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema (draft-07) for a valibot schema: what `tool schema` prints, what MCP-style clients and Paperclip's
 * `parametersSchema` take, and what the host-function zod schema is rebuilt from.
 */
export function jsonSchemaOf(schema: AnySchema, description?: string): JsonSchema {
  const js = toJsonSchema(schema, { errorMode: "throw", typeMode: "input" }) as JsonSchema;
  return description ? { ...js, description } : js;
}

export interface ToolDescription {
  name: string;
  description: string;
  /** The command an agent runs inside the VM. */
  guestCommand: string;
  inputSchema: JsonSchema;
  outputSchema: JsonSchema;
  examples?: { description: string; input: unknown }[];
}

/**
 * A tool as `tool list --json` and `tool schema` print it. Here, not on the registry: the JSON Schema converter is
 * then loaded by the commands that print schemas, not by `tool invoke` (src/tools/host.ts).
 */
export function describeTool(tool: AnyTool): ToolDescription {
  return {
    name: tool.name,
    description: tool.description,
    guestCommand: `${guestCommand(tool.name)} --json '{...}'`,
    inputSchema: jsonSchemaOf(tool.input),
    outputSchema: jsonSchemaOf(tool.output),
    ...(tool.examples?.length ? { examples: tool.examples } : {}),
  };
}
