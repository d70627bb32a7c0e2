import { expectAnswer, UnexpectedAnswerError, type AnswerCheck, type Doc } from "./answers.js";
import { httpError } from "./errors.js";
import type { ScicatAuth } from "./auth.js";
import type { ScicatHttp, ScicatRequest, ScicatResponse } from "./http.js";

/**
 * Authenticated SciCat calls. An expired token is not a 401 in SciCat: the request runs as anonymous and a
 * write answers 403 (scicat-api.md §2.1). So on any 403 we log in again once and repeat the request once;
 * a second 403 is a real permission problem.
 */
export class ScicatClient {
  constructor(
    readonly http: ScicatHttp,
    private readonly auth: ScicatAuth,
  ) {}

  /**
   * Send with the token. Statuses in `accept` are returned; any other non-2xx is thrown as ScicatHttpError
   * (classified by the caller, which knows what it was doing).
   */
  async call(request: ScicatRequest, operation: string, accept: number[] = []): Promise<ScicatResponse> {
    let token = await this.auth.token();
    let response = await this.http.send(withToken(request, token));
    if (response.status === 403 && this.auth.canRelogin) {
      token = await this.auth.renew(token);
      response = await this.http.send(withToken(request, token));
    }
    if ((response.status >= 200 && response.status < 300) || accept.includes(response.status)) return response;
    throw httpError(response, operation);
  }

  /**
   * GET one record by id: the document (checked against `schema`), or undefined when SciCat says it is not there.
   * Only SciCat's own JSON 404 means "not there": an HTML 404 from a proxy or a wrong URL is an error.
   */
  async getOne(path: string, operation: string, schema: AnswerCheck<Doc>): Promise<Doc | undefined> {
    const response = await this.call({ method: "GET", path }, operation, [404]);
    if (response.status === 404) {
      if (response.json) return undefined;
      throw new UnexpectedAnswerError(response, "SciCat's JSON answer (the record, or its JSON 404)", "");
    }
    return expectAnswer(response, schema, `the record as JSON (${operation})`);
  }
}

function withToken(request: ScicatRequest, token: string): ScicatRequest {
  return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
}
