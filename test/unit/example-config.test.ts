import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";

/** The example file must stay true to the schema: it parses, and it shows every key the schema has. */
describe("config/beamsync.example.yaml", () => {
  const file = path.resolve(import.meta.dirname, "../../config/beamsync.example.yaml");
  const text = fs.readFileSync(file, "utf8");

  it("is a valid configuration", () => {
    expect(() => configSchema.parse(YAML.parse(text))).not.toThrow();
  });

  it("mentions every key of the schema", () => {
    const missing: string[] = [];
    const visit = (schema: unknown, prefix: string) => {
      let def = (schema as { def?: { type?: string; innerType?: unknown; shape?: Record<string, unknown> } }).def;
      while (def && def.innerType && def.type !== "object") def = (def.innerType as { def?: typeof def }).def;
      if (def?.type !== "object" || !def.shape) return;
      for (const [key, child] of Object.entries(def.shape)) {
        if (!new RegExp(`^\\s*#?\\s*${key}:`, "m").test(text)) missing.push(prefix + key);
        visit(child, `${prefix}${key}.`);
      }
    };
    visit(configSchema, "");
    expect(missing).toEqual([]);
  });
});
