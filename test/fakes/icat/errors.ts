/** ICAT error codes and the HTTP status each maps to (icat-api.md §6, IcatException.java). */
export type IcatErrorCode =
  | "BAD_PARAMETER"
  | "INSUFFICIENT_PRIVILEGES"
  | "INTERNAL"
  | "NO_SUCH_OBJECT_FOUND"
  | "NOT_IMPLEMENTED"
  | "OBJECT_ALREADY_EXISTS"
  | "SESSION"
  | "VALIDATION";

export const STATUS_BY_CODE: Record<IcatErrorCode, number> = {
  BAD_PARAMETER: 400,
  INSUFFICIENT_PRIVILEGES: 403,
  INTERNAL: 500,
  NO_SUCH_OBJECT_FOUND: 404,
  NOT_IMPLEMENTED: 501,
  OBJECT_ALREADY_EXISTS: 412,
  SESSION: 403,
  VALIDATION: 412,
};

/** An error the fake answers as `{"code","message"[,"offset"]}` with the code's status. */
export class IcatFakeError extends Error {
  offset: number | undefined;
  constructor(
    readonly code: IcatErrorCode,
    message: string,
    offset?: number,
  ) {
    super(message);
    this.offset = offset;
  }

  get status(): number {
    return STATUS_BY_CODE[this.code];
  }

  body(): { code: IcatErrorCode; message: string; offset?: number } {
    return { code: this.code, message: this.message, ...(this.offset !== undefined && this.offset >= 0 ? { offset: this.offset } : {}) };
  }
}

export const badParameter = (message: string) => new IcatFakeError("BAD_PARAMETER", message);
export const validation = (message: string) => new IcatFakeError("VALIDATION", message);
