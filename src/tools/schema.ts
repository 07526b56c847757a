import { toJsonSchema } from "@valibot/to-json-schema";
import type { AnySchema } from "./types.ts";

export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema (draft-07) for a valibot schema: what `tool schema` prints, what MCP-style clients and Paperclip's
 * `parametersSchema` take, and what the host-function zod schema is rebuilt from.
 */
export function jsonSchemaOf(schema: AnySchema, description?: string): JsonSchema {
  const js = toJsonSchema(schema, { errorMode: "throw", typeMode: "input" }) as JsonSchema;
  return description ? { ...js, description } : js;
}
