export { createIcatDestination, type IcatDestinationDeps } from "./destination.js";
export { IcatServerError, IcatTransportError } from "./http.js";
export { classifyIcatError } from "./errors.js";
