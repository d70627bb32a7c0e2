import type { RecordScope, UploadLogFilter } from "./contract.js";

/**
 * The WHERE clauses both backends build from an operator's scope and from `log`'s filter, in one place: what
 * "this beamtime" or "failed attempts since" means does not depend on the backend, only the placeholders do.
 */

/** The values bound to one statement; `add` answers the placeholder of the next one. */
export interface SqlParams {
  readonly values: unknown[];
  add(value: unknown): string;
}

/** SQLite's `?`. */
export class PositionalParams implements SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return "?";
  }
}

/** PostgreSQL's `$1`, `$2`, … */
export class NumberedParams implements SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Records in an operator's scope (resync, retry): a beamtime's proposal or investigation counts as in it. */
export function scopeWhere(scope: RecordScope, params: SqlParams): string {
  const clauses: string[] = ["1 = 1"];
  if (scope.runUid) clauses.push(`run_uid = ${params.add(scope.runUid)}`);
  if (scope.beamtime) {
    clauses.push(`(beamtime_key = ${params.add(scope.beamtime)} OR (kind IN ('proposal', 'investigation') AND key = ${params.add(scope.beamtime)}))`);
  }
  if (scope.destination) clauses.push(`destination = ${params.add(scope.destination)}`);
  return clauses.join(" AND ");
}

/** `WHERE …` for `beamsync log`'s filter, or "" when it filters nothing. */
export function uploadLogWhere(filter: UploadLogFilter, params: SqlParams): string {
  const clauses: string[] = [];
  if (filter.runUid) clauses.push(`session_identifier = ${params.add(filter.runUid)}`);
  if (filter.destination) clauses.push(`destination_name = ${params.add(filter.destination)}`);
  if (filter.failed) clauses.push("success = 0");
  if (filter.since) clauses.push(`timestamp >= ${params.add(filter.since)}`);
  return clauses.length ? `WHERE ${clauses.join(" AND ")}` : "";
}
