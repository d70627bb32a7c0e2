/**
 * Field comparison between what ICAT holds and what a record wants, at the precision the server keeps
 * (issue 20). A value the server stores less precisely than it was sent must not count as a change, or every
 * push updates it again.
 *
 * - Dates: on MySQL/MariaDB (`DATETIME`) the milliseconds are dropped (or rounded); on Oracle they are kept.
 *   The server never says which, so it is learned from what it returns: until a date comes back with
 *   milliseconds, a whole-second value less than a second from the wanted one is the same date.
 * - Doubles: Oracle's NUMBER(38,19) keeps 19 decimal places.
 * - Absent values: ICAT leaves null attributes out of entities and answers null in projections; beamsync leaves
 *   out what it does not set. Neither is a change.
 */

/** Half the last decimal place NUMBER(38,19) keeps. */
const NUMBER_38_19_STEP = 5e-20;
/** Relative difference two doubles may have after a trip through a decimal column. */
const DOUBLE_EPSILON = 1e-15;

export class ServerPrecision {
  /** undefined until a date with milliseconds has been seen. */
  private millis: boolean | undefined;

  get keepsMilliseconds(): boolean | undefined {
    return this.millis;
  }

  /** Learn from a date the server returned. */
  observe(remote: unknown): void {
    if (typeof remote !== "string") return;
    const ms = Date.parse(remote);
    if (!Number.isNaN(ms) && ms % 1000 !== 0) this.millis = true;
  }

  sameInstant(remote: unknown, desired: string): boolean {
    this.observe(remote);
    if (typeof remote !== "string") return false;
    const have = Date.parse(remote);
    const want = Date.parse(desired);
    if (have === want) return true;
    if (this.millis === true || have % 1000 !== 0) return false;
    return Math.abs(have - want) < 1000;
  }
}

export function sameNumber(remote: unknown, desired: number): boolean {
  if (typeof remote !== "number") return false;
  const diff = Math.abs(remote - desired);
  return diff === 0 || diff <= NUMBER_38_19_STEP || diff <= Math.abs(desired) * DOUBLE_EPSILON;
}

/** null (ICAT's "not set") and undefined are one value. */
export function present<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}

/** The desired fields whose remote value differs; undefined desired values are left alone. */
export function changedFields(
  remote: Record<string, unknown>,
  desired: Record<string, unknown>,
  precision: ServerPrecision,
  dateFields: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(desired)) {
    if (value === undefined) continue;
    const have = present(remote[field]);
    const same =
      dateFields.includes(field) && typeof value === "string"
        ? precision.sameInstant(have, value)
        : typeof value === "number"
          ? sameNumber(have, value)
          : have === value;
    if (!same) out[field] = value;
  }
  return out;
}
