import { randomUUID } from "node:crypto";
import { clone, type Doc } from "./store.js";
import { validate, type Dto, type ValidationError } from "./validate.js";

/**
 * v4 Attachments, as scicat-api.md §5.8 describes them ("v4 `POST /api/v4/attachments`: `ownerGroup!`, `caption!`,
 * `isPublished!`, `thumbnail?` (data URI string), `aid?`, `relationships?:[{targetId!, targetType! ("dataset", …),
 * relationType?}]`", `src/attachments/dto/*.v4.dto.ts`), with GET and PATCH by `aid`. No exchange with attachments
 * was recorded: shapes of answers follow the DTO and the other v4 routes (the stored document, `_id` = `aid`).
 * §5.10: the server does not check duplicates; a second POST with the same `aid` is a MongoDB duplicate key, which
 * the backend answers as an unmapped 500 (as for samples, §5.10).
 */

export const ATTACHMENT_V4_DTO: Dto = {
  required: { ownerGroup: "string", caption: "string", isPublished: "boolean" },
  optional: { accessGroups: "strings", thumbnail: "string", aid: "string", relationships: "array", instrumentGroup: "string" },
};

interface AttachmentCaller {
  username: string;
  groups: string[];
  admin: boolean;
}

interface AttachmentAnswer {
  status: number;
  body?: unknown;
}

export interface AttachmentDeps<C extends AttachmentCaller> {
  datasets: Map<string, Doc>;
  canSee: (doc: Doc, caller: C | undefined) => boolean;
  stamp: (doc: Doc, user: string, created?: boolean) => Doc;
  badRequest: (errors: ValidationError[]) => AttachmentAnswer;
  forbidden: AttachmentAnswer;
  internal: AttachmentAnswer;
  nest: (status: number, message: string, error?: string) => AttachmentAnswer;
}

export function attachmentRoutes<C extends AttachmentCaller>(deps: AttachmentDeps<C>) {
  const attachments = new Map<string, Doc>();
  const relationshipsValid = (value: unknown) =>
    value === undefined || (Array.isArray(value) && value.every((r) => r !== null && typeof r === "object" && typeof (r as Doc).targetId === "string" && typeof (r as Doc).targetType === "string"));

  const handle = (method: string, rest: (string | undefined)[], body: unknown, caller: C | undefined, notFound: AttachmentAnswer): AttachmentAnswer => {
    if (rest.length > 1) return notFound;
    const aid = rest[0];
    if (aid === undefined) {
      if (method !== "POST") return notFound;
      if (!caller) return deps.forbidden;
      const errors = validate(body, ATTACHMENT_V4_DTO);
      if (errors.length) return deps.badRequest(errors);
      const doc = clone(body as Doc);
      if (!relationshipsValid(doc.relationships)) return deps.nest(400, "relationships must be a list of {targetId, targetType}", "Bad Request");
      for (const r of (doc.relationships ?? []) as Doc[]) {
        const dataset = r.targetType === "dataset" ? deps.datasets.get(String(r.targetId)) : undefined;
        if (r.targetType === "dataset" && (!dataset || !deps.canSee(dataset, caller))) return deps.nest(404, `Dataset: ${String(r.targetId)} not found`, "Not Found");
      }
      const id = typeof doc.aid === "string" ? doc.aid : randomUUID();
      if (attachments.has(id)) return deps.internal;
      const stored = deps.stamp({ ...doc, aid: id, _id: id, accessGroups: doc.accessGroups ?? [] }, caller.username);
      attachments.set(id, stored);
      return { status: 201, body: clone(stored) };
    }
    const stored = attachments.get(aid);
    if (method === "GET") {
      if (!stored) return deps.nest(404, `Attachment: ${aid} not found`, "Not Found");
      if (!deps.canSee(stored, caller)) return deps.forbidden;
      return { status: 200, body: clone(stored) };
    }
    if (method === "PATCH") {
      if (!caller) return deps.forbidden;
      const errors = validate(body, ATTACHMENT_V4_DTO, { partial: true, forbidden: ["aid"] });
      if (errors.length) return deps.badRequest(errors);
      if (!stored) return deps.nest(404, `Attachment: ${aid} not found`, "Not Found");
      Object.assign(stored, clone(body as Doc));
      deps.stamp(stored, caller.username, false);
      return { status: 200, body: clone(stored) };
    }
    return notFound;
  };

  return { handle, list: (): Doc[] => [...attachments.values()].map(clone) };
}
