import { z } from "zod";
import { scrubSecrets } from "../../ops/logger.js";
import { TransientError } from "../../sync/errors.js";
import type { ScicatResponse } from "./http.js";

/**
 * Every SciCat answer beamsync acts on is checked here before it changes any state. A 2xx that is not the JSON
 * we asked for (a maintenance page in front of the catalog, an empty body, another record) is a transient
 * error that names the URL and what came back: never success, and never "nothing there".
 */

export type Doc = Record<string, unknown>;

/** A JSON object with any extra keys (the server adds `_id`, `id`, `__v`, timestamps, …). */
const document = z.looseObject({});

/**
 * An answer that must name `value` in `field`: a shared schema for the shape, then a plain check of the value.
 * Not a schema made per call (`.refine`, `z.literal(value)`): zod compiles each new schema on its first parse,
 * which cost more CPU than anything else in checking an answer.
 */
export interface Naming<T> {
  answerShape: z.ZodType<T>;
  field: string;
  value: string;
}

/** What an answer is checked against: a schema, or a schema and the key it must name. */
export type AnswerCheck<T> = z.ZodType<T> | Naming<T>;

/** What a keyed record's answer must name: the key field and the value we sent or asked for. */
export function keyedDocument(field: string, value: string): Naming<Doc> {
  return { answerShape: document, field, value };
}

/** A created or read dataset: its pid is ours. */
export const datasetDocument = (pid: string) => keyedDocument("pid", pid);

/** An instrument: SciCat chooses its pid; the uniqueName is ours. */
const instrument = z.looseObject({ pid: z.string().min(1) });
export const instrumentDocument = (uniqueName: string): Naming<Doc> => ({ answerShape: instrument, field: "uniqueName", value: uniqueName });

/** A stored origdatablock: an id to patch it by and a file list. */
export const blockDocument = z.looseObject({
  _id: z.string().min(1).optional(),
  id: z.string().min(1).optional(),
  size: z.number().optional(),
  ownerGroup: z.string().optional(),
  accessGroups: z.array(z.string()).optional(),
  dataFileList: z.array(z.looseObject({ path: z.string(), size: z.number(), time: z.string() })),
}).refine((b) => b._id !== undefined || b.id !== undefined, { message: "it has neither _id nor id" });

/** A created block belongs to the dataset we posted it for. */
export const createdBlock = (datasetId: string): Naming<Doc> => keyedDocument("datasetId", datasetId);

export const documentList = z.array(document);

/** A login answer: the token is `access_token` (and `id`, the same value, on v4 backends). */
export const loginAnswer = z
  .looseObject({ access_token: z.string().min(1).optional(), id: z.string().min(1).optional(), expires_in: z.unknown(), ttl: z.unknown() })
  .refine((b) => b.access_token !== undefined || b.id !== undefined, { message: "it carries no access_token" });

/** "SciCat answered GET …/x with HTTP 200 and an HTML page (text/html): "Maintenance", not a JSON list". */
export function unexpectedAnswerText(response: ScicatResponse, expected: string, problem = ""): string {
  return scrubSecrets(`SciCat answered ${response.method} ${response.url} with HTTP ${response.status} and ${describeBody(response)}, not ${expected}${problem ? ` (${problem})` : ""}`);
}

/** A 2xx answer that is not what the exchange promises. */
export class UnexpectedAnswerError extends TransientError {
  constructor(response: ScicatResponse, expected: string, problem: string) {
    super(`${unexpectedAnswerText(response, expected, problem)}; will retry`, { httpStatus: response.status });
    this.name = "UnexpectedAnswerError";
  }
}

/** The answer's body, checked against `schema`; `expected` says in words what should have come. */
export function expectAnswer<T>(response: ScicatResponse, check: AnswerCheck<T>, expected: string): T {
  if (!response.json) throw new UnexpectedAnswerError(response, expected, "");
  const naming = "answerShape" in check ? check : undefined;
  const parsed = (naming ? naming.answerShape : (check as z.ZodType<T>)).safeParse(response.data);
  if (parsed.success) {
    if (naming && (parsed.data as Doc)[naming.field] !== naming.value) {
      throw new UnexpectedAnswerError(response, expected, `its ${naming.field} is not ${JSON.stringify(naming.value)}`);
    }
    return parsed.data;
  }
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  throw new UnexpectedAnswerError(response, expected, `${where}${issue?.message ?? "wrong shape"}`);
}

/** A short, secret-free description of a body for messages: "an HTML page (text/html): 'Down for maintenance'". */
export function describeBody(response: ScicatResponse): string {
  const type = response.headers["content-type"]?.split(";")[0]?.trim();
  const typeText = type ? ` (${type})` : " (no content-type)";
  if (response.data === undefined) return `an empty body${typeText}`;
  if (!response.json) {
    const text = String(response.data);
    const kind = /<html|<!doctype/i.test(text) ? "an HTML page" : "a non-JSON body";
    const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1] ?? text.replace(/<[^>]*>/g, " ");
    return `${kind}${typeText}: ${JSON.stringify(title.replace(/\s+/g, " ").trim().slice(0, 80))}`;
  }
  const data = response.data;
  if (data === null) return "JSON null";
  if (Array.isArray(data)) return `a JSON array of ${data.length}`;
  if (typeof data === "object") return `a JSON object with keys ${Object.keys(data).slice(0, 8).join(", ") || "(none)"}`;
  return `a JSON ${typeof data}: ${JSON.stringify(data).slice(0, 80)}`;
}
