import { z } from "zod";

/**
 * event-model's required fields per document type (bluesky-documents.md §2), as zod schemas that let extra
 * keys through: invalid documents are reported with the reason, valid ones keep everything they carry.
 */

const num = z.number();
const str = z.string().min(1);
const obj = z.record(z.string(), z.unknown());

const dataKey = z.looseObject({
  dtype: z.string(),
  shape: z.array(z.number().nullable()),
  source: z.string(),
  units: z.string().nullable().optional(),
  external: z.string().optional(),
});

export const documentSchemas = {
  start: z.looseObject({ uid: str, time: num }),
  descriptor: z.looseObject({ uid: str, run_start: str, time: num, data_keys: z.record(z.string(), dataKey), name: z.string().optional() }),
  event: z.looseObject({ uid: str, descriptor: str, seq_num: z.number().int(), time: num, data: obj, timestamps: obj }),
  event_page: z.looseObject({ uid: z.array(str), descriptor: str, seq_num: z.array(z.number().int()), time: z.array(num), data: obj, timestamps: obj }),
  resource: z.looseObject({ uid: str, spec: z.string(), root: z.string(), resource_path: z.string(), resource_kwargs: obj, path_semantics: z.enum(["posix", "windows"]).optional(), run_start: z.string().optional() }),
  datum: z.looseObject({ datum_id: str, resource: str, datum_kwargs: obj }),
  datum_page: z.looseObject({ datum_id: z.array(str), resource: str, datum_kwargs: obj }),
  stop: z.looseObject({ uid: str, run_start: str, time: num, exit_status: z.enum(["success", "abort", "fail"]), reason: z.string().optional(), num_events: z.record(z.string(), z.number()).optional() }),
  // 1.21+ (mimetype/uri/parameters) or the 1.19 shape (spec/root/resource_path).
  stream_resource: z.union([
    z.looseObject({ uid: str, data_key: z.string(), mimetype: z.string(), uri: z.string(), parameters: obj, run_start: z.string().optional() }),
    z.looseObject({ uid: str, spec: z.string(), root: z.string(), resource_path: z.string(), resource_kwargs: obj, run_start: z.string().optional() }),
  ]),
  stream_datum: z.looseObject({ uid: str, stream_resource: str, descriptor: str, indices: z.looseObject({ start: num, stop: num }), seq_nums: z.looseObject({ start: num, stop: num }) }).or(
    z.looseObject({ uid: str, stream_resource: str, datum_kwargs: obj }),
  ),
} as const;

export type DocumentName = keyof typeof documentSchemas;

export type Validated = { ok: true; name: DocumentName; doc: Record<string, unknown> } | { ok: false; reason: string };

export function validateDocument(name: string, doc: Record<string, unknown>): Validated {
  const schema = (documentSchemas as Record<string, z.ZodType | undefined>)[name];
  if (!schema) return { ok: false, reason: `unknown document type '${name}'` };
  const result = schema.safeParse(doc);
  if (result.success) return { ok: true, name: name as DocumentName, doc };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? issue.path.join(".") : "document";
  return { ok: false, reason: `invalid ${name}: ${where}: ${issue?.message ?? "does not match event-model"}` };
}
