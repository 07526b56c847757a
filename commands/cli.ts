#!/usr/bin/env bun
import { start } from "./_entry.ts";

await start(process.argv.slice(2));
